from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from usage_archive.github_actions.archive_file import rows_table
from usage_archive.github_actions.rates import RateTable, load_rates
from usage_archive.github_actions.rows import billable_minutes, job_row, runner_os
from usage_archive.github_actions.runners import NO_RUNNER_MAP, Runner, RunnerMap
from usage_archive_tests.fakes.github_api import make_job, make_run

UTC = timezone.utc
RUN = make_run(7, datetime(2026, 1, 6, 10, 0, tzinfo=UTC), run_attempt=2, repository="octo/api")


@pytest.mark.parametrize(
    ("labels", "os_name"),
    [
        (["ubuntu-latest"], "Linux"),
        (["ubuntu-24.04-arm"], "Linux"),
        (["windows-2022"], "Windows"),
        (["macos-14"], "macOS"),
        (["self-hosted", "Linux", "X64"], "Linux"),
        (["gpu-large"], None),
        ([], None),
    ],
)
def test_runner_os_from_labels(labels: list[str], os_name: str | None) -> None:
    assert runner_os(labels) == os_name


@pytest.mark.parametrize(
    ("seconds", "runner_class", "visibility", "minutes"),
    [
        (0, "standard_linux", "private", 0),
        (1, "standard_linux", "private", 1),
        (60, "standard_linux", "private", 1),
        (61, "standard_linux", "private", 2),
        (3599, "standard_linux", "internal", 60),
        (3599, "standard_linux", None, 60),
        (3599, "standard_macos", "public", 0),
        (61, "larger", "public", 2),
        (500, "self_hosted", "private", 0),
        (500, "unknown", "private", None),
        (0, "unknown", "private", 0),
        (None, "standard_linux", "private", None),
    ],
)
def test_billable_minutes_round_up_per_job(
    seconds: int | None, runner_class: str, visibility: str | None, minutes: int | None
) -> None:
    assert billable_minutes(seconds, Runner(runner_class), visibility) == minutes


def test_job_row_keeps_times_durations_and_multiplier() -> None:
    row = job_row(
        "octo/api",
        "platform",
        RUN,
        make_job(70, RUN, attempt=1, queued_seconds=30, run_seconds=125, labels=["macos-14"]),
    )
    assert row["run_attempt"] == 1 and row["latest_run_attempt"] == 2
    assert row["started_at"] == datetime(2026, 1, 6, 10, 0, 30, tzinfo=UTC)
    assert row["started_at"].tzinfo is not None
    assert (row["queue_seconds"], row["run_seconds"], row["billable_minutes"]) == (30, 125, 3)
    assert (row["runner_os"], row["minute_multiplier"], row["self_hosted"]) == ("macOS", 10, False)
    assert (row["workflow_name"], row["workflow_path"], row["event"]) == (
        "CI",
        ".github/workflows/ci.yml",
        "push",
    )


def test_unfinished_and_self_hosted_jobs() -> None:
    running = job_row("octo/api", None, RUN, make_job(71, RUN, run_seconds=None))
    assert (
        running["completed_at"] is None
        and running["run_seconds"] is None
        and running["billable_minutes"] is None
    )
    own = job_row(
        "octo/api",
        None,
        RUN,
        make_job(72, RUN, labels=["self-hosted", "Windows"], run_seconds=600, runner_group="Default"),
    )
    assert (own["self_hosted"], own["billable_minutes"], own["minute_multiplier"], own["runner_os"]) == (
        True,
        0,
        None,
        "Windows",
    )
    assert (own["runner_class"], own["rate_usd_per_minute"], own["estimated_cost_usd"]) == (
        "self_hosted",
        None,
        Decimal(0),
    )


# -- what a job costs (the cases of docs/github_actions.md, "What a job costs") ------------------------------------
JAN_2026 = make_run(8, datetime(2026, 1, 6, 10, 0, tzinfo=UTC), repository="octo/api")
DEC_2025 = make_run(9, datetime(2025, 12, 30, 10, 0, tzinfo=UTC), repository="octo/api")


def cost_row(
    run: dict,
    visibility: str,
    runners: RunnerMap = NO_RUNNER_MAP,
    rates: RateTable | None = None,
    **job: object,
) -> dict:
    return job_row(
        "octo/api", None, run, make_job(90, run, **job), visibility=visibility, runners=runners, rates=rates
    )


def test_a_public_repository_on_standard_runners_is_free() -> None:
    for labels in (["ubuntu-latest"], ["windows-2022"], ["macos-14"], ["ubuntu-24.04-arm"], ["ubuntu-slim"]):
        row = cost_row(JAN_2026, "public", labels=labels, run_seconds=3600)
        assert row["runner_class"].startswith("standard_")
        assert (row["run_seconds"], row["billable_minutes"], row["estimated_cost_usd"]) == (
            3600,
            0,
            Decimal(0),
        )
        assert row["repository_visibility"] == "public" and row["self_hosted"] is False


def test_five_ubuntu_jobs_in_a_public_repository_bill_nothing_where_the_old_rule_billed_ten_minutes() -> None:
    rows = [cost_row(JAN_2026, "public", run_seconds=61) for _ in range(5)]
    assert sum(r["billable_minutes"] for r in rows) == 0


def test_a_private_repository_on_ubuntu_latest_rounds_each_job_up_at_0_006_from_2026() -> None:
    rows = [cost_row(JAN_2026, "private", run_seconds=seconds) for seconds in (1, 60, 61, 125)]
    assert [r["billable_minutes"] for r in rows] == [1, 1, 2, 3]  # per job: 7 minutes, not ceil(247 s) = 5
    assert {r["rate_usd_per_minute"] for r in rows} == {Decimal("0.006")}
    assert [r["estimated_cost_usd"] for r in rows] == [
        Decimal("0.006"),
        Decimal("0.006"),
        Decimal("0.012"),
        Decimal("0.018"),
    ]
    assert sum(r["estimated_cost_usd"] for r in rows) == Decimal("0.042")  # exact, no float noise
    assert rows[0]["runner_class"] == "standard_linux" and rows[0]["minute_multiplier"] == 1
    internal = cost_row(JAN_2026, "internal", run_seconds=61)
    assert internal["estimated_cost_usd"] == Decimal("0.012")


def test_a_larger_runner_bills_in_a_public_repository_too() -> None:
    runners = RunnerMap(larger={"linux-8-core": "linux_8_core"})
    row = cost_row(
        JAN_2026,
        "public",
        runners,
        labels=["linux-8-core"],
        runner_group="Default Larger Runners",
        run_seconds=601,
    )
    assert (row["runner_class"], row["runner_sku"], row["billable_minutes"]) == ("larger", "linux_8_core", 11)
    assert (row["rate_usd_per_minute"], row["estimated_cost_usd"]) == (Decimal("0.022"), Decimal("0.242"))
    assert row["minute_multiplier"] is None  # larger runners never use included minutes
    assert row["runner_os"] == "Linux"
    # without the map the size is unknown: billed minutes, but no price rather than a wrong one
    unmapped = cost_row(
        JAN_2026, "public", labels=["ubuntu-22.04-16core"], runner_group="Default", run_seconds=601
    )
    assert (unmapped["runner_class"], unmapped["runner_sku"], unmapped["billable_minutes"]) == (
        "larger",
        None,
        11,
    )
    assert unmapped["rate_usd_per_minute"] is None and unmapped["estimated_cost_usd"] is None
    macos = cost_row(JAN_2026, "public", labels=["macos-15-xlarge"], run_seconds=60)
    assert (macos["runner_sku"], macos["estimated_cost_usd"]) == ("macos_xl", Decimal("0.102"))


def test_a_scale_set_runner_without_a_self_hosted_label_in_a_self_hosted_group_is_free() -> None:
    job = {"labels": ["arc-runner-set"], "runner_group": "arc-runners", "run_seconds": 1800}
    row = cost_row(JAN_2026, "private", **job)
    assert (row["runner_class"], row["self_hosted"], row["billable_minutes"], row["estimated_cost_usd"]) == (
        "self_hosted",
        True,
        0,
        Decimal(0),
    )
    assert row["runner_os"] is None and row["minute_multiplier"] is None
    # the same when the user names the group or the label in repositories.yml, even in the Default group
    for runners in (
        RunnerMap(self_hosted_groups=frozenset({"arc-runners"})),
        RunnerMap(self_hosted_labels=frozenset({"arc-runner-set"})),
    ):
        assert cost_row(JAN_2026, "private", runners, **job)["self_hosted"] is True


def test_a_macos_job_before_and_after_the_price_change() -> None:
    before = cost_row(DEC_2025, "private", labels=["macos-14"], run_seconds=600)
    after = cost_row(JAN_2026, "private", labels=["macos-14"], run_seconds=600)
    assert (before["billable_minutes"], before["minute_multiplier"]) == (10, 10)
    assert (before["rate_usd_per_minute"], before["estimated_cost_usd"]) == (Decimal("0.08"), Decimal("0.80"))
    assert (after["rate_usd_per_minute"], after["estimated_cost_usd"]) == (Decimal("0.062"), Decimal("0.620"))


def test_the_job_start_day_picks_the_rate_even_when_the_run_began_the_year_before() -> None:
    late = make_run(10, datetime(2025, 12, 31, 23, 59, 0, tzinfo=UTC), repository="octo/api")
    row = cost_row(late, "private", queued_seconds=120, run_seconds=60)  # starts 2026-01-01 00:01
    assert row["rate_usd_per_minute"] == Decimal("0.006")


def test_the_self_hosted_platform_charge_applies_only_when_switched_on(tmp_path) -> None:
    march = make_run(11, datetime(2026, 3, 2, 10, 0, tzinfo=UTC), repository="octo/api")
    job = {"labels": ["self-hosted", "linux"], "runner_group": "Default", "run_seconds": 61}
    assert cost_row(march, "private", **job)["estimated_cost_usd"] == Decimal(0)  # shipped: off
    user = tmp_path / "rates.csv"
    user.write_text(
        "runner,effective_from,effective_to,usd_per_minute,enabled\nself_hosted,2026-03-01,,0.002,true\n"
    )
    rates = load_rates(user)
    on = cost_row(march, "private", rates=rates, **job)
    assert (on["billable_minutes"], on["rate_usd_per_minute"], on["estimated_cost_usd"]) == (
        2,
        Decimal("0.002"),
        Decimal("0.004"),
    )
    assert cost_row(march, "public", rates=rates, **job)["estimated_cost_usd"] == Decimal(0)
    assert cost_row(JAN_2026, "private", rates=rates, **job)["estimated_cost_usd"] == Decimal(
        0
    )  # before March


def test_a_skipped_job_with_reversed_timestamps_has_no_negative_duration() -> None:
    skipped = make_job(91, JAN_2026, run_seconds=0, conclusion="skipped")
    skipped.update(
        started_at="2026-01-06T10:00:00Z",
        completed_at="2025-12-14T06:13:20Z",
        created_at="2026-01-06T10:00:05Z",
        runner_name=None,
        runner_group_name=None,
        runner_id=None,
    )
    row = job_row("octo/api", None, JAN_2026, skipped, visibility="private")
    assert (row["run_seconds"], row["queue_seconds"], row["billable_minutes"]) == (0, 0, 0)
    assert (row["runner_class"], row["estimated_cost_usd"]) == ("standard_linux", Decimal(0))


def test_the_rows_fit_the_archive_schema_with_exact_decimals() -> None:
    rows = [
        cost_row(JAN_2026, "private", run_seconds=61),
        cost_row(JAN_2026, "public", labels=["gpu-box"], runner_group="GitHub Actions", run_seconds=61),
    ]
    table = rows_table(rows)
    assert table.column("estimated_cost_usd").to_pylist() == [Decimal("0.012000"), None]
    assert table.column("runner_class").to_pylist() == ["standard_linux", "unknown"]
