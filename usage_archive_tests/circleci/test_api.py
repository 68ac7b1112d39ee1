"""The Usage API client and the weekly fetch, over real HTTP against the local fake Usage API."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

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
from usage_archive.circleci.weekly import ArchiveLayout, export_job_key, fetch_week_csv, load_export_job
from usage_archive_tests.fakes.circleci_api import FakeUsageApi

WEEK = date(2026, 11, 16)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
FAST = PollPolicy(
    initial_interval_s=0.001,
    max_interval_s=0.004,
    deadline_s=5,
    rate_limit_wait_s=0.001,
    max_rate_limit_waits=3,
    server_error_retries=2,
    request_timeout_s=5,
)


def gz_parts(tmp_path: Path, rows: int, parts: int, org: str = "org-a") -> list[bytes]:
    all_rows = list(sample_rows(rows, org_id=org, weeks=[WEEK]))
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
        ArchiveLayout(("org-a",)),
        now=NOW,
        log=logs.append,
    )
    assert week.key == "circleci-usage-data/usage-data-2026-11-16-to-2026-11-23.csv"
    assert week.parts == 3 and week.merge.rows >= 120 and not week.resumed
    text = store.get_bytes(week.key).decode()
    assert text.count("ORGANIZATION_ID") == 1 and len(text.splitlines()) == week.merge.rows + 1
    # created → processing → completed without URLs (not ready) → completed: 4 GETs, backoff grows
    assert (
        api.posts == 1
        and sum(1 for r in api.requests if r.method == "GET" and "usage_export_job/" in r.path) == 4
    )
    assert sleeps == sorted(sleeps) and len(sleeps) == 3
    assert any("without download URLs yet" in line for line in logs)
    post = next(r for r in api.requests if r.method == "POST")
    assert post.body == {"start": "2026-11-16T00:00:00Z", "end": "2026-11-22T23:59:59Z"}
    # The token went to the API, never to the (presigned) download URLs; the signature is never logged.
    assert all(r.had_token is ("/downloads/" not in r.path) for r in api.requests)
    assert not any("s3cr3t" in line or api.token in line for line in logs)
    assert not store.exists(export_job_key("org-a", WEEK))  # done: the job state is gone


def test_429_backs_off_then_succeeds_and_gives_up_clearly(api: FakeUsageApi) -> None:
    sleeps = Sleeps()
    api.post_statuses = [429, 429]
    job = client(api, sleeps=sleeps).create_export("org-a", *_window(), now=NOW)
    assert job.state == "created" and api.posts == 3 and sleeps[:2] == [FAST.rate_limit_wait_s] * 2
    api.post_statuses = [429] * 10
    with pytest.raises(RateLimited, match="10 export jobs per hour"):
        client(api).create_export("org-a", *_window(), now=NOW)


def test_failed_export_surfaces_its_reason_and_the_next_run_makes_a_new_job(
    api: FakeUsageApi, tmp_path: Path
) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    api.fail_reason = "Query timed out after 4 hours"
    with pytest.raises(ExportFailed, match="failed: Query timed out after 4 hours"):
        fetch_week_csv(store, client(api), "org-a", WEEK, ArchiveLayout(), now=NOW)
    assert load_export_job(store, "org-a", WEEK)["state"] == "failed"
    api.fail_reason = None
    fetch_week_csv(store, client(api), "org-a", WEEK, ArchiveLayout(), now=NOW)
    assert api.posts == 2


def test_401_403_404_name_the_setting_and_never_the_token(api: FakeUsageApi) -> None:
    with pytest.raises(CircleCISettingsError) as unauthorized:
        client(api, token="wrong-token-987").create_export("org-a", *_window(), now=NOW)
    assert "401" in str(unauthorized.value) and "CIRCLECI_TOKEN" in str(unauthorized.value)
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
            store, client(api, policy=slow, sleeps=time.sleep), "org-a", WEEK, ArchiveLayout(), now=NOW
        )
    state = load_export_job(store, "org-a", WEEK)
    assert state["usage_export_job_id"] in api.jobs and api.posts == 1
    api.hold = False
    week = fetch_week_csv(store, client(api), "org-a", WEEK, ArchiveLayout(), now=NOW)
    assert week.resumed and week.job_id == state["usage_export_job_id"] and api.posts == 1


def test_a_forgotten_job_is_replaced_once(api: FakeUsageApi, tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    store.put_bytes(
        export_job_key("org-a", WEEK),
        json.dumps(
            {
                "usage_export_job_id": "gone",
                "window": {"start": "2026-11-16T00:00:00+00:00", "end": "2026-11-22T23:59:59+00:00"},
            }
        ).encode(),
    )
    week = fetch_week_csv(store, client(api), "org-a", WEEK, ArchiveLayout(), now=NOW)
    assert not week.resumed and api.posts == 1


def test_server_errors_are_retried_and_a_broken_part_is_named(api: FakeUsageApi, tmp_path: Path) -> None:
    api.get_statuses = [500]
    store = LocalArchiveStore(tmp_path / "archive")
    api.parts[1] = gzip.compress(b"NOT,A,USAGE,EXPORT\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"part 2 is missing required column\(s\) ORGANIZATION_ID"):
        fetch_week_csv(store, client(api), "org-a", WEEK, ArchiveLayout(), now=NOW)
    assert not store.exists("circleci-usage-data/usage-data-2026-11-16-to-2026-11-23.csv")


def _window() -> tuple[datetime, datetime]:
    start = datetime(2026, 11, 16, tzinfo=timezone.utc)
    return start, start + timedelta(days=7) - timedelta(seconds=1)
