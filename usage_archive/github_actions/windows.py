"""`created=` windows for the workflow-runs query.

GitHub returns at most 1,000 results for a filtered query, while `total_count` still reports the full number.
A window whose count passes the cap is split in two halves and each half queried again, down to one second.
Windows are inclusive at both ends and in whole seconds, the precision of GitHub's timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from usage_archive.periods import ONE_SECOND

RESULT_CAP = 1000


@dataclass(frozen=True)
class Window:
    start: datetime  # inclusive, UTC, whole seconds
    end: datetime  # inclusive, UTC, whole seconds

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is None or value.utcoffset() != timedelta(0) or value.microsecond:
                raise ValueError(f"window bounds must be whole seconds in UTC, got {value!r}")
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def half_open(cls, start: datetime, end: datetime) -> Window:
        """The window for [start, end): the last included second is end - 1 s."""
        return cls(start.astimezone(timezone.utc), end.astimezone(timezone.utc) - ONE_SECOND)

    @property
    def seconds(self) -> int:
        """How many whole seconds the window covers."""
        return int((self.end - self.start).total_seconds()) + 1

    @property
    def splittable(self) -> bool:
        return self.seconds > 1

    def created_filter(self) -> str:
        """The value of the `created` query parameter, e.g. 2026-01-05T00:00:00Z..2026-01-11T23:59:59Z."""
        return f"{self.start:%Y-%m-%dT%H:%M:%SZ}..{self.end:%Y-%m-%dT%H:%M:%SZ}"

    def split(self) -> tuple[Window, Window]:
        """Two halves that together cover exactly this window, without overlap."""
        if not self.splittable:
            raise ValueError(f"a one-second window ({self.created_filter()}) cannot be split")
        middle = self.start + timedelta(seconds=self.seconds // 2 - 1)
        return Window(self.start, middle), Window(middle + ONE_SECOND, self.end)
