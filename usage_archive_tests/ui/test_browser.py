"""The Dagster UI in a real browser: Playwright driving the system Chromium (Debian's `chromium`), against a
real `dagster dev` whose daemon runs what the clicks launch.

Screenshots land in the test's temporary folder; with USAGE_ARCHIVE_SCREENSHOTS=<dir> (`make screenshots`)
they are copied there too (docs/images/ in the repository).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from usage_archive.archive.layout import billing_manifest_key
from usage_archive.periods import Month
from usage_archive_tests.defs.github_actions.conftest import WEEK as GITHUB_WEEK
from usage_archive_tests.ui.conftest import DemoInstance

pytestmark = [pytest.mark.ui, pytest.mark.browser]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# No background traffic: this machine's network is closed, and Chromium would retry its own services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]
BILLING_KEYS_COUNT = 8
GITHUB_WEEKS = ["2025-12-29", GITHUB_WEEK, "2026-01-12"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium), "
            "or set CHROMIUM to a Chromium executable; .ci/run installs it"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    target = os.environ.get("USAGE_ARCHIVE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in folder.glob("*.png"):
            shutil.copy(shot, Path(target) / shot.name)


def test_billing_backfill_from_the_group_materialize_all_dialog(
    start_demo_instance, browser, screenshots
) -> None:
    from playwright.sync_api import expect

    demo: DemoInstance = start_demo_instance()
    first, last = demo.months[-2], demo.months[-1]  # the dialog offers the last 90 days by default
    # Weeks of GitHub Actions usage for the plots, each launched as the UI's "Launch 1 run" does.
    github_runs = [demo.ui.launch_single_run(["github_actions/workflow_runs"], week) for week in GITHUB_WEEKS]
    assert all(run["__typename"] == "LaunchRunSuccess" for run in github_runs), github_runs

    # "localhost", not 127.0.0.1: the UI shows its first-visit dialog only there, as a new user sees it.
    base = demo.ui.url.replace("127.0.0.1", "localhost")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{base}/locations/usage_archive/asset-groups/billing/lineage")
    page.get_by_role("button", name="Skip").click()  # the first-visit "Join the Dagster community" dialog
    expect(page.get_by_text("credit_checks").first).to_be_visible()
    page.screenshot(path=screenshots / "asset-graph-billing.png")

    page.get_by_role("button", name="Materialize all…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Launch runs to materialize {BILLING_KEYS_COUNT} assets")).to_be_visible()
    selection = dialog.locator("input[type=text]").first
    selection.fill(f"[{first}...{last}]")
    selection.press("Enter")
    expect(dialog.get_by_text("2 partitions", exact=True)).to_be_visible()
    page.screenshot(path=screenshots / "materialize-all-dialog.png")
    dialog.get_by_role("button", name="Launch backfill").click()
    toast = page.get_by_text(re.compile(r"Created backfill \w+"))
    expect(toast).to_be_visible()
    backfill_id = re.search(r"Created backfill (\w+)", toast.inner_text()).group(1)

    backfill = demo.ui.wait_for_backfill(backfill_id)
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    for month in (first, last):
        assert (demo.archive / billing_manifest_key(Month.parse(month))).is_file()

    page.goto(f"{base}/runs/b/{backfill_id}")
    expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()
    expect(page.get_by_text("100% completed")).to_have_count(BILLING_KEYS_COUNT)
    page.screenshot(path=screenshots / "billing-backfill.png")

    page.goto(f"{base}/assets/billing/credits?view=partitions")
    expect(page.get_by_text("Materialized (2)")).to_be_visible()
    page.screenshot(path=screenshots / "billing-month-partitions.png")

    page.goto(f"{base}/assets/billing/credits?view=checks&checkDetail=row_count_matches_manifest")
    page.locator("button[role=tab]", has_text="Partitions").click()
    expect(page.get_by_text("Passed (2)")).to_be_visible()
    expect(page.get_by_text("Failed (0)", exact=True)).to_be_visible()
    page.get_by_text(last, exact=True).first.click()
    page.screenshot(path=screenshots / "billing-month-checks.png")

    for run in github_runs:
        assert demo.ui.wait_for_run(run["run"]["runId"])["status"] == "SUCCESS"
    page.goto(f"{base}/assets/github_actions/workflow_runs?view=overview")
    page.get_by_role("button", name="Plots").click()  # the Metadata section's Table / Plots toggle
    expect(page.get_by_text("billable_minutes/platform").first).to_be_visible()
    page.wait_for_timeout(2000)  # the charts animate in
    page.screenshot(path=screenshots / "github-actions-plots.png", full_page=True)
    page.close()
