"""collect_week against the fake API and a local archive store: partial progress inside a repository."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from usage_archive.archive.layout import github_progress_key
from usage_archive.archive.store import LocalArchiveStore
from usage_archive.github_actions.archive_file import read_archive, repository_data_from_file
from usage_archive.github_actions.client import GitHubClient, GitHubRateLimitError
from usage_archive.github_actions.collect import collect_week, store_week
from usage_archive.github_actions.config import parse_repositories
from usage_archive.github_actions.verify import duplicate_attempt_problems, missing_job_problems
from usage_archive.periods import Week
from usage_archive_tests.fakes.github_api import FakeGitHub, make_job, make_run

MONDAY = datetime(2026, 1, 5, tzinfo=timezone.utc)
WEEK = "2026-01-05"


def test_a_stopped_repository_resumes_after_its_last_checkpoint(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path)
    config = parse_repositories("repositories:\n  - octo/big\n")
    with FakeGitHub() as github:
        repo = github.repository("octo/big")
        for run_id in range(1, 26):
            run = make_run(run_id, MONDAY + timedelta(hours=run_id), repository="octo/big")
            repo.add_run(run, [make_job(run_id * 10, run), make_job(run_id * 10 + 1, run)])
        # the budget runs out after 14 requests (repository, workflows, runs + 11 jobs), resetting far past the max wait
        github.set_rate_limit(limit=14, window_seconds=7200)
        client = GitHubClient(
            github.token,
            github.api_url,
            sleep=github.clock.sleep,
            clock=github.clock.time,
            max_wait_seconds=60,
        )
        with pytest.raises(GitHubRateLimitError, match="past the max wait"):
            collect_week(client, store, config, WEEK, checkpoint_every=5)
        partial = repository_data_from_file(
            store.get_bytes(github_progress_key(Week.parse(WEEK), "octo/big", partial=True))
        )
        assert [r.run_id for r in partial.runs] == list(range(1, 11))
        assert partial.table.num_rows == 20

        github.clock.now = github.reset_at  # two hours later, the retry, with a fresh budget
        github.set_rate_limit(limit=100, window_seconds=3600)
        github.requests.clear()
        collection = collect_week(client, store, config, WEEK, checkpoint_every=5)
    asked = [int(p.split("/")[-2]) for p in github.paths("/jobs")]
    assert asked == list(range(11, 26))  # runs 1–10 were not asked again
    stored = store_week(store, collection)
    table, info = read_archive(store.get_bytes(stored.key))
    assert table.num_rows == 50
    assert sorted(table.column("job_id").to_pylist())[:2] == [10, 11]
    assert missing_job_problems(table, info) == []
    assert duplicate_attempt_problems(table) == []
    assert list(store.list("github-actions-usage/.progress/")) == []


def test_job_costs_follow_each_repository_visibility_asked_once_per_week(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path)
    config = parse_repositories(
        "repositories:\n  - octo/site\n  - octo/app\nrunners:\n  larger:\n    linux-8-core: linux_8_core\n"
    )
    with FakeGitHub() as github:
        site = github.repository("octo/site")
        site.visibility = "public"
        app = github.repository("octo/app")  # private
        for repo, base in ((site, 1), (app, 2)):
            for offset in range(3):
                run = make_run(
                    base * 100 + offset, MONDAY + timedelta(hours=offset + 1), repository=repo.full_name
                )
                repo.add_run(
                    run,
                    [
                        make_job(base * 1000 + offset * 10, run, run_seconds=61),  # ubuntu-latest
                        make_job(
                            base * 1000 + offset * 10 + 1,
                            run,
                            run_seconds=61,
                            labels=["linux-8-core"],
                            runner_group="Default Larger Runners",
                        ),
                        make_job(
                            base * 1000 + offset * 10 + 2,
                            run,
                            run_seconds=61,
                            labels=["arc-runner-set"],
                            runner_group="arc-runners",
                        ),
                    ],
                )
        client = GitHubClient(github.token, github.api_url, sleep=github.clock.sleep, clock=github.clock.time)
        collection = collect_week(client, store, config, WEEK)
    assert github.paths("/repos/octo/site").count("/repos/octo/site") == 1
    assert github.paths("/repos/octo/app").count("/repos/octo/app") == 1
    rows = collection.table.to_pylist()
    by = {(r["repository"], r["runner_class"]): r for r in rows}
    assert {(r["repository"], r["repository_visibility"]) for r in rows} == {
        ("octo/site", "public"),
        ("octo/app", "private"),
    }
    assert (
        by["octo/site", "standard_linux"]["billable_minutes"],
        by["octo/site", "standard_linux"]["estimated_cost_usd"],
    ) == (0, Decimal(0))
    assert (
        by["octo/site", "larger"]["billable_minutes"],
        by["octo/site", "larger"]["estimated_cost_usd"],
    ) == (2, Decimal("0.044"))
    assert by["octo/site", "self_hosted"]["estimated_cost_usd"] == Decimal(0)
    assert (
        by["octo/app", "standard_linux"]["billable_minutes"],
        by["octo/app", "standard_linux"]["estimated_cost_usd"],
    ) == (2, Decimal("0.012"))
    site_cost = sum(r["estimated_cost_usd"] for r in rows if r["repository"] == "octo/site")
    app_cost = sum(r["estimated_cost_usd"] for r in rows if r["repository"] == "octo/app")
    assert (site_cost, app_cost) == (Decimal("0.132"), Decimal("0.168"))
    stored = store_week(store, collection)
    table, info = read_archive(store.get_bytes(stored.key))
    assert info["repositories"]["octo/site"]["visibility"] == "public"
    assert (
        table.column("estimated_cost_usd").to_pylist()
        == collection.table.column("estimated_cost_usd").to_pylist()
    )
