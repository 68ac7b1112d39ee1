"""collect_week against the fake API and a local archive store: partial progress inside a repository."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from usage_archive.archive.store import LocalArchiveStore
from usage_archive.github_actions.archive_file import read_archive, repository_data_from_file
from usage_archive.github_actions.collect import collect_week, store_week
from usage_archive.github_actions.config import parse_repositories
from usage_archive.github_actions.verify import duplicate_attempt_problems, missing_job_problems
from usage_archive.github_actions.week import progress_key
from usage_archive.resources.github import GitHubClient, GitHubRateLimitError
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
        # the budget runs out after 14 job requests (2 listing + 12 jobs), resetting far past the max wait
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
        partial = repository_data_from_file(store.get_bytes(progress_key(WEEK, "octo/big", partial=True)))
        assert [r.run_id for r in partial.runs] == list(range(1, 11)) and partial.table.num_rows == 20

        github.clock.now = github.reset_at  # two hours later, the retry, with a fresh budget
        github.set_rate_limit(limit=100, window_seconds=3600)
        github.requests.clear()
        collection = collect_week(client, store, config, WEEK, checkpoint_every=5)
    asked = [int(p.split("/")[-2]) for p in github.paths("/jobs")]
    assert asked == list(range(11, 26))  # runs 1–10 were not asked again
    stored = store_week(store, collection)
    table, info = read_archive(store.get_bytes(stored.key))
    assert table.num_rows == 50 and sorted(table.column("job_id").to_pylist())[:2] == [10, 11]
    assert missing_job_problems(table, info) == [] and duplicate_attempt_problems(table) == []
    assert list(store.list("github-actions-usage/.progress/")) == []
