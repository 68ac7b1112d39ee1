from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from usage_archive.github_actions.week import WeekError, archive_key, progress_key, week_bounds
from usage_archive.github_actions.windows import Window

UTC = timezone.utc


def test_week_bounds_and_keys() -> None:
    assert week_bounds("2026-01-05") == (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
    assert archive_key("2026-01-05") == "github-actions-usage/workflow-runs-2026-01-05-to-2026-01-12.parquet"
    assert (
        progress_key("2026-01-05", "octo/api")
        == "github-actions-usage/.progress/2026-01-05/done/octo/api.parquet"
    )
    assert progress_key("2026-01-05", "octo/api", partial=True) == (
        "github-actions-usage/.progress/2026-01-05/partial/octo/api.parquet"
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [("2026-01-06", "Tuesday is not a Monday"), ("2026-13-01", "expected the Monday as YYYY-MM-DD")],
)
def test_bad_week_partition(key: str, message: str) -> None:
    with pytest.raises(WeekError, match=message):
        week_bounds(key)


def test_week_window_filter_is_inclusive_to_the_last_second() -> None:
    window = Window.half_open(*week_bounds("2026-01-05"))
    assert window.created_filter() == "2026-01-05T00:00:00Z..2026-01-11T23:59:59Z"
    assert window.seconds == 7 * 86400


@pytest.mark.parametrize("seconds", [2, 3, 7 * 86400, 7 * 86400 - 1])
def test_split_covers_the_window_exactly_once(seconds: int) -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    window = Window(start, start + timedelta(seconds=seconds - 1))
    first, second = window.split()
    assert first.start == window.start and second.end == window.end
    assert second.start - first.end == timedelta(seconds=1)
    assert first.seconds + second.seconds == window.seconds
    assert abs(first.seconds - second.seconds) <= 1


def test_one_second_cannot_split_and_bounds_must_be_utc_seconds() -> None:
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="cannot be split"):
        Window(moment, moment).split()
    with pytest.raises(ValueError, match="whole seconds in UTC"):
        Window(datetime(2026, 1, 5), datetime(2026, 1, 6))
    with pytest.raises(ValueError, match="before it starts"):
        Window(moment, moment - timedelta(seconds=1))
