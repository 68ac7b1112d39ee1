"""The archive's periods as types: a calendar `Month` (billing) and a `Week` from Monday 00:00 UTC (CircleCI and
GitHub Actions). No Dagster import.

Both parse a partition key or what a user types, give their bounds as UTC instants (half-open: the end is the
next period's start), their `<start>-to-<end>` label, the previous and next period, and a range. Every bad
value raises `PeriodError`, whose message names the value and the form expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

ONE_SECOND = timedelta(seconds=1)


class PeriodError(ValueError):
    """A month or week that cannot be used: malformed, not the period's first day, or not over yet."""


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), timezone.utc)


def _today() -> date:
    return datetime.now(timezone.utc).date()


class _Period:
    """What months and weeks share, given their first day and the day after their last."""

    @property
    def first(self) -> date:
        raise NotImplementedError

    @property
    def end_day(self) -> date:
        raise NotImplementedError

    @property
    def start(self) -> datetime:
        return _utc_midnight(self.first)

    @property
    def end(self) -> datetime:
        return _utc_midnight(self.end_day)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """[first day 00:00 UTC, the next period's first day 00:00 UTC)."""
        return self.start, self.end

    @property
    def last_second(self) -> datetime:
        """The period's last second: the inclusive end APIs that take closed intervals ask for."""
        return self.end - ONE_SECOND

    @property
    def label(self) -> str:
        """`<first day>-to-<next period's first day>`, as object names use it."""
        return f"{self.first.isoformat()}-to-{self.end_day.isoformat()}"


@dataclass(frozen=True, order=True)
class Month(_Period):
    """A calendar month in UTC. Partition keys are its first day (`YYYY-MM-01`); users may type `YYYY-MM`."""

    first_day: date

    def __post_init__(self) -> None:
        if self.first_day.day != 1:
            raise PeriodError(f"month {self.first_day.isoformat()!r} does not start on the 1st: use YYYY-MM")

    @classmethod
    def parse(cls, value: str | date | Month) -> Month:
        """`YYYY-MM`, `YYYY-MM-01` (a partition key), a date (its month) or a Month."""
        if isinstance(value, Month):
            return value
        if isinstance(value, date):
            return cls(value.replace(day=1))
        text = str(value).strip()
        for form in ("%Y-%m-%d", "%Y-%m"):
            try:
                day = datetime.strptime(text, form).date()
            except ValueError:
                continue
            if day.day != 1:
                raise PeriodError(f"month {value!r} is not the first of a month: use YYYY-MM or YYYY-MM-01")
            return cls(day)
        raise PeriodError(f"month {value!r} is not a month: use YYYY-MM or YYYY-MM-01")

    @classmethod
    def containing(cls, day: date) -> Month:
        return cls(day.replace(day=1))

    @classmethod
    def last_ended(cls, today: date | None = None) -> Month:
        """The newest month that is over."""
        return cls.containing(today or _today()).previous()

    @property
    def key(self) -> str:
        """The partition key, `YYYY-MM-01`."""
        return self.first_day.isoformat()

    @property
    def end_day(self) -> date:
        """The first day of the next month (exclusive end)."""
        year, month = divmod(self.first_day.year * 12 + self.first_day.month, 12)
        return date(year, month + 1, 1)

    @property
    def first(self) -> date:
        return self.first_day

    def previous(self) -> Month:
        return Month.containing(self.first_day - timedelta(days=1))

    def next(self) -> Month:
        return Month(self.end_day)

    @staticmethod
    def range(first: Month, last: Month) -> list[Month]:
        """Every month from `first` to `last`, both included."""
        return list(_walk(first, last))

    def __str__(self) -> str:
        return f"{self.first_day:%Y-%m}"

    def __format__(self, spec: str) -> str:
        return format(self.first_day, spec) if spec else str(self)


@dataclass(frozen=True, order=True)
class Week(_Period):
    """Monday 00:00 UTC to the next Monday 00:00 UTC. Partition keys (and what users type) are the Monday."""

    monday: date

    def __post_init__(self) -> None:
        if self.monday.weekday() != 0:
            raise PeriodError(
                f"week {self.monday.isoformat()!r} is a {self.monday:%A}: a week is named by its "
                "Monday, YYYY-MM-DD"
            )

    @classmethod
    def parse(cls, value: str | date | Week) -> Week:
        """A Monday as `YYYY-MM-DD` (a partition key), a date that is a Monday, or a Week."""
        if isinstance(value, Week):
            return value
        if isinstance(value, date):
            return cls(value)
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise PeriodError(
                f"week {value!r} is not a date: name a week by its Monday, YYYY-MM-DD"
            ) from None
        return cls(day)

    @classmethod
    def containing(cls, day: date) -> Week:
        return cls(day - timedelta(days=day.weekday()))

    @classmethod
    def last_ended(cls, today: date | None = None) -> Week:
        """The newest week that is over."""
        return cls.containing(today or _today()).previous()

    @property
    def key(self) -> str:
        """The partition key, the Monday as `YYYY-MM-DD`."""
        return self.monday.isoformat()

    @property
    def end_day(self) -> date:
        """The next Monday (exclusive end)."""
        return self.monday + timedelta(days=7)

    @property
    def first(self) -> date:
        return self.monday

    def previous(self) -> Week:
        return Week(self.monday - timedelta(days=7))

    def next(self) -> Week:
        return Week(self.end_day)

    @staticmethod
    def range(first: Week, last: Week) -> list[Week]:
        """Every week from `first` to `last`, both included."""
        return list(_walk(first, last))

    def __str__(self) -> str:
        return self.key

    def __format__(self, spec: str) -> str:
        return format(self.monday, spec) if spec else str(self)


def _walk(first: Month | Week, last: Month | Week) -> Iterator:
    if type(first) is not type(last):
        raise PeriodError(f"a range needs two periods of one kind, not {first!r} and {last!r}")
    if last < first:
        raise PeriodError(f"range {first}..{last} ends before it starts")
    period = first
    while period <= last:
        yield period
        period = period.next()
