"""The GitHub client over real HTTP against the fake API: pagination, the 1,000 cap, rate limits, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from usage_archive.github_actions.week import week_bounds
from usage_archive.github_actions.windows import Window
from usage_archive.resources.github import (
    GitHubAuthError,
    GitHubClient,
    GitHubNotFound,
    GitHubPermissionError,
    GitHubRateLimitError,
)
from usage_archive_tests.fakes.github_api import FakeClock, FakeGitHub, make_job, make_run

UTC = timezone.utc
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)
WEEK = Window.half_open(*week_bounds("2026-01-05"))


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def client_for(fake: FakeGitHub, **kwargs: object) -> GitHubClient:
    options: dict = {"sleep": fake.clock.sleep, "clock": fake.clock.time, **kwargs}
    return GitHubClient(fake.token, fake.api_url, **options)


def test_jobs_of_every_attempt_over_link_pages(github: FakeGitHub) -> None:
    run = make_run(1, MONDAY, run_attempt=2)
    jobs = [make_job(1000 + i, run, attempt=1 + i % 2) for i in range(250)]
    github.repository("octo/api").add_run(run, jobs)
    listed, total = client_for(github).list_jobs("octo/api", 1)
    assert total == 250 and sorted(j["id"] for j in listed) == [j["id"] for j in jobs]
    requests = [q for p, q in github.requests if p.endswith("/jobs")]
    assert [q.get("page", "1") for q in requests] == ["1", "2", "3"]
    assert all(q["filter"] == "all" for q in requests)
    assert not github.paths("/timing")


def test_a_week_over_the_cap_is_split_until_each_query_fits(github: FakeGitHub) -> None:
    repo = github.repository("octo/busy")
    # 2,600 runs: most on Tuesday morning, a few late on Sunday and exactly at the week's edges
    moments = [MONDAY + timedelta(days=1, seconds=7 * i) for i in range(2500)]
    moments += [MONDAY + timedelta(days=6, hours=23, minutes=i % 60) for i in range(98)]
    moments += [MONDAY, MONDAY + timedelta(days=7, seconds=-1)]
    for run_id, moment in enumerate(moments, start=1):
        repo.add_run(make_run(run_id, moment), [])
    repo.add_run(make_run(9999, MONDAY + timedelta(days=7)), [])  # next week: excluded
    repo.add_run(make_run(9998, MONDAY - timedelta(seconds=1)), [])  # previous week: excluded

    runs = client_for(github).list_runs("octo/busy", WEEK)

    assert sorted(r["id"] for r in runs) == list(range(1, 2601))
    filters = [q["created"] for p, q in github.requests if p.endswith("/runs") and q.get("page", "1") == "1"]
    assert filters[0] == "2026-01-05T00:00:00Z..2026-01-11T23:59:59Z"
    assert len(filters) > 3  # split at least twice
    served = [q for p, q in github.requests if p.endswith("/runs")]
    assert all(int(q.get("page", 1)) * 100 <= 1000 for q in served)  # never asked past the cap


def test_rate_limit_exhaustion_waits_for_the_reset_and_continues(github: FakeGitHub) -> None:
    run = make_run(1, MONDAY)
    github.repository("octo/api").add_run(run, [make_job(1000 + i, run) for i in range(500)])
    github.set_rate_limit(limit=2, window_seconds=120)
    start = github.clock.now

    listed, total = client_for(github).list_jobs("octo/api", 1)

    assert total == 500 and len(listed) == 500
    assert github.clock.now - start >= 240  # five pages at two per window: waited for two resets
    assert all(s <= 121 for s in github.clock.sleeps)
    refused = [p for p, _ in github.requests].count("/repos/octo/api/actions/runs/1/jobs") - 5
    assert refused == 0  # the client waited before asking, it never ran into a 403


def test_a_403_rate_limit_response_waits_for_its_reset(github: FakeGitHub) -> None:
    github.repository("octo/api").workflows = [{"id": 1, "name": "CI", "path": "ci.yml", "state": "active"}]
    github.set_rate_limit(limit=1, window_seconds=300)
    github.remaining = 0  # used up by someone else: the first answer is a 403
    assert client_for(github).list_workflows("octo/api")[0]["id"] == 1
    assert len(github.requests) == 2 and github.clock.sleeps == [pytest.approx(301, abs=1)]


def test_a_reset_past_the_max_wait_is_a_clear_error(github: FakeGitHub) -> None:
    github.repository("octo/api")
    github.set_rate_limit(limit=1, window_seconds=7200)
    github.remaining = 0
    with pytest.raises(GitHubRateLimitError) as excinfo:
        client_for(github, max_wait_seconds=600).list_workflows("octo/api")
    reset = datetime.fromtimestamp(github.reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"rate limit resets at {reset}, which is past the max wait of 600 s" in str(excinfo.value)
    assert github.clock.sleeps == []


@pytest.mark.parametrize(
    ("status", "retry_after", "expected_sleeps"),
    [(429, 7, [7.0]), (403, 3, [3.0]), (403, None, [60.0, 120.0])],
)
def test_secondary_limits_back_off(
    github: FakeGitHub, status: int, retry_after: int | None, expected_sleeps: list[float]
) -> None:
    github.repository("octo/api")
    github.secondary = [(status, retry_after)] * len(expected_sleeps)
    assert client_for(github).list_workflows("octo/api") == []
    assert github.clock.sleeps == expected_sleeps


def test_404_repository_is_named(github: FakeGitHub) -> None:
    with pytest.raises(GitHubNotFound, match=r"repository octo/gone: 404 Not Found .* token cannot see it"):
        client_for(github).list_runs("octo/gone", WEEK)


def test_401_says_the_token_is_invalid_without_showing_it(github: FakeGitHub) -> None:
    secret = "ghp_wrong_secret_value_123456"
    github.repository("octo/api")
    with pytest.raises(GitHubAuthError) as excinfo:
        GitHubClient(secret, github.api_url, sleep=github.clock.sleep).list_workflows("octo/api")
    assert "GITHUB_TOKEN is invalid or expired" in str(excinfo.value)
    assert secret not in str(excinfo.value) and secret not in repr(excinfo.value)
    assert github.authorization_headers == [f"Bearer {secret}"]  # sent only as a header


def test_403_without_rate_limit_is_a_permission_error_and_not_retried(github: FakeGitHub) -> None:
    github.repository("octo/api")
    github.forbidden.add("octo/api")
    with pytest.raises(GitHubPermissionError, match="repository octo/api: 403 'Resource not accessible"):
        client_for(github).list_workflows("octo/api")
    assert len(github.requests) == 1 and github.clock.sleeps == []


def test_organisation_repositories_and_enterprise_server_prefix() -> None:
    with FakeGitHub(prefix="/api/v3", clock=FakeClock()) as ghes:
        ghes.organizations["octo"] = [f"octo/repo-{i:03d}" for i in range(130)]
        names = client_for(ghes).list_org_repositories("octo")
        assert len(names) == 130
        assert all(p.startswith("/api/v3/orgs/octo/repos") for p in ghes.paths())
        assert [q["type"] for _, q in ghes.requests] == ["all", "all"]


def test_a_403_with_no_budget_and_no_reset_header_backs_off(github: FakeGitHub) -> None:
    github.repository("octo/api")
    github.set_rate_limit(limit=1, window_seconds=30)
    github.remaining = 0
    github.reset_header = False
    assert client_for(github, secondary_wait_seconds=20).list_workflows("octo/api") == []
    assert github.clock.sleeps == [20.0, 40.0]  # no reset to wait for: the secondary back-off instead
