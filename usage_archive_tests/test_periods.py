"""Month and Week: parsing partition keys and what users type, UTC bounds, labels, neighbours and ranges."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from usage_archive.periods import Month, PeriodError, Week

UTC = timezone.utc


def test_month_parses_a_partition_key_and_a_users_month_alike() -> None:
    assert Month.parse("2026-01") == Month.parse("2026-01-01") == Month.parse(date(2026, 1, 17))
    assert Month.parse(" 2026-01 ").key == "2026-01-01"
    assert str(Month.parse("2026-01")) == "2026-01"


def test_month_bounds_are_half_open_utc_instants() -> None:
    december = Month.parse("2025-12")
    assert december.bounds == (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert december.label == "2025-12-01-to-2026-01-01"
    assert december.next() == Month.parse("2026-01")
    assert Month.parse("2026-01").previous() == december


def test_month_range_includes_both_ends() -> None:
    months = Month.range(Month.parse("2025-11"), Month.parse("2026-02"))
    assert [str(m) for m in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-13", r"month '2026-13' is not a month: use YYYY-MM or YYYY-MM-01"),
        ("2026-09-15", r"month '2026-09-15' is not the first of a month: use YYYY-MM or YYYY-MM-01"),
        ("last month", r"month 'last month' is not a month"),
        ("", r"month '' is not a month"),
    ],
)
def test_a_bad_month_names_the_value_and_the_form(value: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        Month.parse(value)


def test_week_parses_its_monday_and_gives_utc_bounds() -> None:
    week = Week.parse("2026-01-05")
    assert week.bounds == (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
    assert week.last_second == datetime(2026, 1, 11, 23, 59, 59, tzinfo=UTC)
    assert week.label == "2026-01-05-to-2026-01-12"
    assert week.key == str(week) == f"{week:%Y-%m-%d}" == "2026-01-05"


def test_week_neighbours_range_and_the_week_holding_a_day() -> None:
    week = Week.parse("2026-01-05")
    assert week.previous() == Week.parse("2025-12-29")
    assert week.next() == Week.parse("2026-01-12")
    assert Week.containing(date(2026, 1, 11)) == week  # Sunday belongs to the week of the Monday before
    assert [w.key for w in Week.range(week.previous(), week.next())] == [
        "2025-12-29",
        "2026-01-05",
        "2026-01-12",
    ]
    assert Week.last_ended(date(2026, 1, 5)) == week.previous()  # on Monday, last week is the newest over


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-01-06", r"week '2026-01-06' is a Tuesday: a week is named by its Monday, YYYY-MM-DD"),
        ("2026-13-01", r"week '2026-13-01' is not a date: name a week by its Monday, YYYY-MM-DD"),
    ],
)
def test_a_bad_week_names_the_value_and_the_form(value: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        Week.parse(value)


def test_a_range_must_not_run_backwards_or_mix_kinds() -> None:
    with pytest.raises(PeriodError, match="ends before it starts"):
        Week.range(Week.parse("2026-01-12"), Week.parse("2026-01-05"))
    with pytest.raises(PeriodError, match="two periods of one kind"):
        Week.range(Week.parse("2026-01-05"), Month.parse("2026-02"))  # type: ignore[arg-type]
