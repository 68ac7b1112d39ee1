"""The Usage API client and the weekly fetch, over real HTTP against the local fake Usage API."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from usage_archive.archive.layout import CircleCILayout, circleci_export_job_key
from usage_archive.archive.store import LocalArchiveStore
from usage_archive.circleci.api import (
    CircleCISettingsError,
    ExportFailed,
    ExportNotReady,
    ExportWindowError,
    PollPolicy,
    RateLimited,
    UsageApiClient,
    validate_window,
)
from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive.circleci.weekly import fetch_week_csv, load_export_job
from usage_archive.periods import Week
from usage_archive.retry import RetryPolicy
from usage_archive_tests.fakes.circleci_api import FakeUsageApi

WEEK = Week.parse("2026-11-16")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
FAST = PollPolicy(initial_interval_s=0.001, max_interval_s=0.004, deadline_s=5, request_timeout_s=5)
FAST_RETRY = RetryPolicy(
    max_retries=2, max_rate_limit_waits=3, backoff_initial_s=0.001, rate_limit_wait_s=0.001
)


def gz_parts(tmp_path: Path, rows: int, parts: int, org: str = "org-a") -> list[bytes]:
    all_rows = list(sample_rows(rows, org_id=org, weeks=[WEEK.monday]))
    size = -(-len(all_rows) // parts)
    payloads = []
    for i in range(parts):
        path = write_export(tmp_path / f"p{i}.csv.gz", all_rows[i * size : (i + 1) * size])
        payloads.append(path.read_bytes())
    return payloads


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeUsageApi]:
    fake = FakeUsageApi(parts=gz_parts(tmp_path, 120, 3)).start()
    yield fake
    fake.stop()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(
    api: FakeUsageApi,
    token: str | None = None,
    sleeps: Callable[[float], None] | None = None,
    logs: list | None = None,
    policy: PollPolicy = FAST,
) -> UsageApiClient:
    return UsageApiClient(
        api.base_url,
        token or api.token,
        policy=policy,
        retry=FAST_RETRY,
        sleep=sleeps if sleeps is not None else Sleeps(),
        log=(logs.append if logs is not None else None),
    )


def test_export_progresses_to_completed_with_urls_and_parts_merge(api: FakeUsageApi, tmp_path: Path) -> None:
    store, sleeps, logs = LocalArchiveStore(tmp_path / "archive"), Sleeps(), []
    week = fetch_week_csv(
        store,
        client(api, sleeps=sleeps, logs=logs),
        "org-a",
        WEEK,
        CircleCILayout(("org-a",)),
        now=NOW,
        log=logs.append,
    )
    assert week.key == "circleci-usage-data/usage-data-2026-11-16-to-2026-11-23.csv"
    assert week.parts == 3
    assert week.merge.rows >= 120
    assert not week.resumed
    text = store.get_bytes(week.key).decode()
    assert text.count("ORGANIZATION_ID") == 1
    assert len(text.splitlines()) == week.merge.rows + 1
    # created → processing → completed without URLs (not ready) → completed: 4 GETs, backoff grows
    assert api.posts == 1
    assert sum(1 for r in api.requests if r.method == "GET" and "usage_export_job/" in r.path) == 4
    assert sleeps == sorted(sleeps)
    assert len(sleeps) == 3
    assert any("without download URLs yet" in line for line in logs)
    post = next(r for r in api.requests if r.method == "POST")
    assert post.body == {"start": "2026-11-16T00:00:00Z", "end": "2026-11-22T23:59:59Z"}
    # The token went to the API, never to the (presigned) download URLs; the signature is never logged.
    assert all(r.had_token is ("/downloads/" not in r.path) for r in api.requests)
    assert not any("s3cr3t" in line or api.token in line for line in logs)
    assert not store.exists(circleci_export_job_key("org-a", WEEK))  # done: the job state is gone


def test_429_backs_off_then_succeeds_and_gives_up_clearly(api: FakeUsageApi) -> None:
    sleeps = Sleeps()
    api.post_statuses = [429, 429]
    job = client(api, sleeps=sleeps).create_export("org-a", *_window(), now=NOW)
    assert job.state == "created"
    assert api.posts == 3
    assert sleeps[:2] == [FAST_RETRY.rate_limit_wait_s] * 2
    api.post_statuses = [429] * 10
    with pytest.raises(RateLimited, match="10 export jobs per hour"):
        client(api).create_export("org-a", *_window(), now=NOW)


def test_failed_export_surfaces_its_reason_and_the_next_run_makes_a_new_job(
    api: FakeUsageApi, tmp_path: Path
) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    api.fail_reason = "Query timed out after 4 hours"
    with pytest.raises(ExportFailed, match="failed: Query timed out after 4 hours"):
        fetch_week_csv(store, client(api), "org-a", WEEK, CircleCILayout(), now=NOW)
    assert [j["state"] for j in load_export_job(store, "org-a", WEEK)["jobs"]] == ["failed"]
    api.fail_reason = None
    fetch_week_csv(store, client(api), "org-a", WEEK, CircleCILayout(), now=NOW)
    assert api.posts == 2


def test_401_403_404_name_the_setting_and_never_the_token(api: FakeUsageApi) -> None:
    with pytest.raises(CircleCISettingsError) as unauthorized:
        client(api, token="wrong-token-987").create_export("org-a", *_window(), now=NOW)
    assert "401" in str(unauthorized.value)
    assert "CIRCLECI_TOKEN" in str(unauthorized.value)
    assert "wrong-token-987" not in str(unauthorized.value)
    with pytest.raises(CircleCISettingsError, match=r"404 Not Found for organisation org-x.*CIRCLECI_ORG_ID"):
        client(api).create_export("org-x", *_window(), now=NOW)
    api.forbidden_org_ids = ("org-a",)
    with pytest.raises(CircleCISettingsError, match="403 Forbidden for organisation org-a") as forbidden:
        client(api).create_export("org-a", *_window(), now=NOW)
    assert api.token not in str(forbidden.value)
    with pytest.raises(CircleCISettingsError, match="CIRCLECI_TOKEN is not set"):
        UsageApiClient(api.base_url, "")


def test_windows_past_the_api_limits_are_refused_without_a_request(api: FakeUsageApi) -> None:
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    for begin, end, message in (
        (start, start + timedelta(days=32), "longer than the API's 31 days"),
        (start - timedelta(days=400), start - timedelta(days=394), "more than a year ago"),
        (NOW - timedelta(days=2), NOW + timedelta(days=1), "in the future"),
        (start, start - timedelta(days=1), "before it starts"),
    ):
        with pytest.raises(ExportWindowError, match=message):
            client(api).create_export("org-a", begin, end, now=NOW)
    validate_window(start, start + timedelta(days=31), NOW)  # exactly 31 days is fine
    assert api.requests == []


def test_deadline_then_a_rerun_resumes_the_same_job_without_a_post(api: FakeUsageApi, tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    api.hold = True
    slow = PollPolicy(initial_interval_s=0.001, max_interval_s=0.002, deadline_s=0.05)
    with pytest.raises(ExportNotReady, match="resumes this job"):
        fetch_week_csv(
            store, client(api, policy=slow, sleeps=time.sleep), "org-a", WEEK, CircleCILayout(), now=NOW
        )
    (job,) = load_export_job(store, "org-a", WEEK)["jobs"]
    assert job["usage_export_job_id"] in api.jobs
    assert api.posts == 1
    api.hold = False
    week = fetch_week_csv(store, client(api), "org-a", WEEK, CircleCILayout(), now=NOW)
    assert week.resumed
    assert week.job_id == job["usage_export_job_id"]
    assert api.posts == 1


def test_a_forgotten_job_is_replaced_once(api: FakeUsageApi, tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    store.put_bytes(
        circleci_export_job_key("org-a", WEEK),
        json.dumps(
            {
                "usage_export_job_id": "gone",
                "window": {"start": "2026-11-16T00:00:00+00:00", "end": "2026-11-22T23:59:59+00:00"},
            }
        ).encode(),
    )
    week = fetch_week_csv(store, client(api), "org-a", WEEK, CircleCILayout(), now=NOW)
    assert not week.resumed
    assert api.posts == 1


def test_server_errors_are_retried_and_a_broken_part_is_named(api: FakeUsageApi, tmp_path: Path) -> None:
    api.get_statuses = [500]
    store = LocalArchiveStore(tmp_path / "archive")
    api.parts[1] = gzip.compress(b"NOT,A,USAGE,EXPORT\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"part 2 is missing required column\(s\) ORGANIZATION_ID"):
        fetch_week_csv(store, client(api), "org-a", WEEK, CircleCILayout(), now=NOW)
    assert not store.exists("circleci-usage-data/usage-data-2026-11-16-to-2026-11-23.csv")


class FakeClock:
    """Time that passes only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_status_checks_stay_within_ten_a_minute_per_organisation(api: FakeUsageApi) -> None:
    clock = FakeClock()
    api.clock = clock
    api.progression = ("created", *["processing"] * 30, "completed")
    api.org_ids = ("org-a", "org-b")
    api.get_statuses = [500, 500]  # retried GETs count as status checks too
    polling = UsageApiClient(
        api.base_url,
        api.token,
        policy=PollPolicy(initial_interval_s=1, max_interval_s=1, deadline_s=3600),  # wants one a second
        retry=FAST_RETRY,
        sleep=clock.sleep,
        clock=clock,
    )
    job = polling.create_export("org-a", *_window(), now=NOW)
    assert polling.wait_for_export("org-a", job.job_id).ready
    checks = api.status_check_times("org-a")
    assert len(checks) == 34  # 32 states + 2 retried 500s
    assert all(later - first >= 60 for first, later in zip(checks, checks[10:], strict=False)), checks
    assert checks[-1] - checks[0] >= 3 * 60  # 34 checks take more than three minutes, not 34 seconds
    # Another organisation has its own budget: its first check waits for nothing.
    before = clock.now
    other = polling.create_export("org-b", *_window(), now=NOW)
    polling.get_export("org-b", other.job_id)
    assert api.status_check_times("org-b") == [before]


def _window() -> tuple[datetime, datetime]:
    return WEEK.start, WEEK.last_second
