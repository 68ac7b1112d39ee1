"""The Usage API's limits on windows and results: windows past 31 days become several export jobs, a result that
is too large is exported again as two half windows; every job is persisted and resumed. Real HTTP against the
local fake Usage API, a local archive."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from usage_archive.archive.layout import CircleCILayout, circleci_export_job_key
from usage_archive.archive.store import LocalArchiveStore
from usage_archive.circleci.api import ExportFailed, ExportNotReady, PollPolicy, UsageApiClient
from usage_archive.circleci.export_jobs import export_window, plan_windows
from usage_archive.circleci.weekly import fetch_week_csv, load_export_job
from usage_archive.github_actions.windows import Window
from usage_archive.periods import Week
from usage_archive.retry import RetryPolicy
from usage_archive_tests.fakes.circleci_api import FakeUsageApi, gzip_parts

WEEK = Week.parse("2026-11-16")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
FAST = PollPolicy(initial_interval_s=0.001, max_interval_s=0.002, deadline_s=5, request_timeout_s=5)
FAST_RETRY = RetryPolicy(
    max_retries=1, max_rate_limit_waits=1, backoff_initial_s=0.001, rate_limit_wait_s=0.001
)
UTC = timezone.utc


def day(month: int, dom: int, hour: int = 0) -> datetime:
    return datetime(2026, month, dom, hour, tzinfo=UTC)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeUsageApi]:
    fake = FakeUsageApi(parts=gzip_parts(tmp_path, 40, 2, week=WEEK)).start()
    yield fake
    fake.stop()


def client(api: FakeUsageApi, policy: PollPolicy = FAST) -> UsageApiClient:
    return UsageApiClient(api.base_url, api.token, policy=policy, retry=FAST_RETRY, sleep=lambda s: None)


def rows_of(path: Path) -> int:
    return len(gzip.decompress(path.read_bytes()).decode().splitlines()) - 1


def test_windows_are_cut_at_31_days_without_gaps_or_overlap() -> None:
    seventy = Window.half_open(day(8, 1), day(8, 1) + timedelta(days=70))
    pieces = plan_windows(seventy)
    assert [(p.end - p.start + timedelta(seconds=1)).days for p in pieces] == [31, 31, 8]
    assert pieces[0].start == seventy.start and pieces[-1].end == seventy.end
    assert all(b.start - a.end == timedelta(seconds=1) for a, b in itertools.pairwise(pieces))
    assert plan_windows(Window.half_open(day(8, 1), day(9, 1))) == [Window.half_open(day(8, 1), day(9, 1))]
    assert plan_windows(Window.half_open(*WEEK.bounds)) == [Window.half_open(*WEEK.bounds)]


def test_a_window_longer_than_31_days_is_several_jobs_each_persisted_and_resumed(
    api: FakeUsageApi, tmp_path: Path
) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    window = Window.half_open(day(8, 1), day(8, 1) + timedelta(days=70))
    state_key = circleci_export_job_key("org-a", WEEK)
    api.hold = True  # the first run stops while the jobs are still processing
    slow = PollPolicy(initial_interval_s=0.001, max_interval_s=0.002, deadline_s=0.05)
    (tmp_path / "first").mkdir()
    with pytest.raises(ExportNotReady):
        export_window(store, client(api, slow), "org-a", window, state_key, tmp_path / "first", now=NOW)
    assert api.job_windows() == [
        ("2026-08-01T00:00:00Z", "2026-08-31T23:59:59Z"),
        ("2026-09-01T00:00:00Z", "2026-10-01T23:59:59Z"),
        ("2026-10-02T00:00:00Z", "2026-10-09T23:59:59Z"),
    ]
    stored = load_export_job(store, "org-a", WEEK)
    assert [j["usage_export_job_id"] for j in stored["jobs"]] == list(api.jobs)  # all three, before polling
    api.hold = False
    (tmp_path / "second").mkdir()
    export = export_window(store, client(api), "org-a", window, state_key, tmp_path / "second", now=NOW)
    assert api.posts == 3  # the second run created no job
    assert export.resumed
    assert [j.job_id for j in export.jobs] == list(api.jobs)
    assert len(export.parts) == 3 * 2
    assert export.names[2] == f"export job {export.jobs[1].job_id} part 1"


def test_a_result_too_large_is_exported_again_as_two_half_windows(api: FakeUsageApi, tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    api.too_large_over = timedelta(days=4)
    logs: list[str] = []
    week = fetch_week_csv(store, client(api), "org-a", WEEK, CircleCILayout(), now=NOW, log=logs.append)
    assert api.job_windows() == [
        ("2026-11-16T00:00:00Z", "2026-11-22T23:59:59Z"),
        ("2026-11-16T00:00:00Z", "2026-11-19T11:59:59Z"),
        ("2026-11-19T12:00:00Z", "2026-11-22T23:59:59Z"),
    ]
    assert any("result is too large" in line and "two halves" in line for line in logs)
    assert len(week.job_ids) == 2 and week.parts == 4
    # The fake serves the same parts for every job: the week holds both halves' rows.
    parts = sorted((tmp_path).glob("*.csv.gz"))
    assert week.merge.rows == 2 * sum(rows_of(p) for p in parts)
    assert not store.exists(circleci_export_job_key("org-a", WEEK))


def test_the_half_windows_are_persisted_and_a_rerun_resumes_them(api: FakeUsageApi, tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    api.too_large_over = timedelta(days=4)

    def stop_after_the_split(line: str) -> None:
        if "two halves" in line:
            api.hold = True  # the halves stay processing: the run stops at its deadline

    slow = PollPolicy(initial_interval_s=0.001, max_interval_s=0.002, deadline_s=0.05)
    with pytest.raises(ExportNotReady):
        fetch_week_csv(
            store, client(api, slow), "org-a", WEEK, CircleCILayout(), now=NOW, log=stop_after_the_split
        )
    jobs = load_export_job(store, "org-a", WEEK)["jobs"]
    assert [(j["start"][:19], j["end"][:19]) for j in jobs] == [
        ("2026-11-16T00:00:00", "2026-11-19T11:59:59"),
        ("2026-11-19T12:00:00", "2026-11-22T23:59:59"),
    ]
    assert api.posts == 3
    api.hold = False
    week = fetch_week_csv(store, client(api), "org-a", WEEK, CircleCILayout(), now=NOW)
    assert api.posts == 3
    assert week.resumed
    assert week.job_ids == [j["usage_export_job_id"] for j in jobs]


def test_a_result_too_large_for_an_hour_is_not_split_further(api: FakeUsageApi, tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    api.too_large_over = timedelta(0)
    window = Window.half_open(day(11, 16), day(11, 16, 3))
    with pytest.raises(ExportFailed, match="not split below one hour: .*import it instead"):
        export_window(
            store, client(api), "org-a", window, circleci_export_job_key("org-a", WEEK), tmp_path, now=NOW
        )
    assert api.posts == 3  # the three hours, then two halves of 1.5 h each
    jobs = load_export_job(store, "org-a", WEEK)["jobs"]
    assert jobs[0]["state"] == "failed"
