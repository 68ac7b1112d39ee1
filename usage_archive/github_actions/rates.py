"""GitHub Actions per-minute rates: data with effective dates, never constants in code.

The package ships `rates.csv` (GitHub's "Actions runner pricing", before and after 2026-01-01). A user file in
the same format can replace rows: every runner it names takes its rows from that file only, the other runners
keep the shipped rows. Columns:

- `runner`: a standard runner class (`standard_linux`, `standard_windows`, `standard_macos`,
  `standard_linux_arm64`, `standard_linux_slim`), a larger runner's billing SKU (`linux_8_core`, `macos_l`, …)
  or `self_hosted` (the per-minute platform charge for self-hosted runners in private/internal repositories);
- `effective_from`, `effective_to`: the first and last UTC day the rate applies (inclusive, YYYY-MM-DD; empty
  means open-ended); periods of one runner must not overlap;
- `usd_per_minute`: a decimal with at most 6 places;
- `enabled`: `true`/`false` (empty = true); a disabled row is kept as a record but never applies — the shipped
  self-hosted platform charge is disabled until GitHub's bill shows it;
- `description`: free text.

A re-computed old week uses the rates of its own days.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path

RATE_PLACES = 6  # decimals a rate may have; the archive's rate column is decimal128(12, 6)
MAX_RATE = Decimal(1_000_000)
COLUMNS = ("runner", "effective_from", "effective_to", "usd_per_minute", "enabled", "description")
REQUIRED_COLUMNS = ("runner", "effective_from", "effective_to", "usd_per_minute")
RUNNER_PATTERN = re.compile(r"^[a-z0-9_]+$")
SELF_HOSTED = "self_hosted"
SHIPPED_FILE = "rates.csv"


class RatesFileError(ValueError):
    """A rates file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Rate:
    runner: str
    effective_from: date | None
    effective_to: date | None
    usd_per_minute: Decimal
    enabled: bool
    description: str
    source: str
    line: int

    def applies_on(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day <= self.effective_to
        )


class RateTable:
    """Dated rates by runner class or SKU."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        self.rates = tuple(rates)
        self._by_runner: dict[str, list[Rate]] = {}
        for rate in self.rates:
            self._by_runner.setdefault(rate.runner, []).append(rate)
        for rows in self._by_runner.values():
            _refuse_overlaps(rows)

    def __contains__(self, runner: str) -> bool:
        return runner in self._by_runner

    def runners(self) -> list[str]:
        return sorted(self._by_runner)

    def rate(self, runner: str | None, day: date | None) -> Decimal | None:
        """USD per minute of `runner` on `day`, or None when no enabled row covers that day (or either is None)."""
        if runner is None or day is None:
            return None
        for rate in self._by_runner.get(runner, ()):
            if rate.enabled and rate.applies_on(day):
                return rate.usd_per_minute
        return None

    def overridden_by(self, user: RateTable) -> RateTable:
        """This table with every runner the user table names replaced by the user's rows."""
        named = set(user._by_runner)
        return RateTable([r for r in self.rates if r.runner not in named] + list(user.rates))


def _refuse_overlaps(rows: list[Rate]) -> None:
    ordered = sorted(rows, key=lambda r: r.effective_from or date.min)
    for earlier, later in itertools.pairwise(ordered):
        earlier_end = earlier.effective_to or date.max
        if (later.effective_from or date.min) <= earlier_end:
            raise RatesFileError(
                f"{later.source}, line {later.line}: the rate of {later.runner!r} from "
                f"{later.effective_from or 'the beginning'} overlaps the one on {earlier.source}, line "
                f"{earlier.line} (until {earlier.effective_to or 'open end'})"
            )


def _day(text: str, column: str, where: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RatesFileError(f"{where}: {column} {text!r} is not a date (YYYY-MM-DD)") from None


def parse_rates(text: str, source: str = SHIPPED_FILE) -> RateTable:
    """Parse a rates CSV; raise RatesFileError naming the line of the first problem."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise RatesFileError(
            f"{source}: the file is empty; expected the columns {', '.join(COLUMNS)}"
        ) from None
    except csv.Error as exc:
        raise RatesFileError(f"{source}, line 1: not valid CSV ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        problems = ([f"lacks the column(s) {', '.join(missing)}"] if missing else []) + (
            [f"has unknown column(s) {', '.join(unknown)}"] if unknown else []
        )
        raise RatesFileError(
            f"{source}, line 1: the header {' and '.join(problems)} (allowed: {', '.join(COLUMNS)})"
        )
    rates: list[Rate] = []
    try:
        for fields in reader:
            line = reader.line_num
            where = f"{source}, line {line}"
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise RatesFileError(f"{where}: {len(fields)} fields, the header has {len(header)}")
            row = {name: value.strip() for name, value in zip(header, fields, strict=True)}
            runner = row["runner"]
            if not RUNNER_PATTERN.match(runner):
                raise RatesFileError(
                    f"{where}: runner {runner!r} must be a runner class or SKU in lower case "
                    "(letters, digits, underscores), e.g. standard_linux or linux_8_core"
                )
            start = _day(row["effective_from"], "effective_from", where)
            end = _day(row["effective_to"], "effective_to", where)
            if start is not None and end is not None and end < start:
                raise RatesFileError(f"{where}: effective_to {end} is before effective_from {start}")
            try:
                price = Decimal(row["usd_per_minute"])
            except InvalidOperation:
                raise RatesFileError(
                    f"{where}: usd_per_minute {row['usd_per_minute']!r} is not a decimal number"
                ) from None
            if not price.is_finite() or price < 0 or price >= MAX_RATE:
                raise RatesFileError(
                    f"{where}: usd_per_minute {row['usd_per_minute']!r} must be a number from 0 "
                    f"to below {MAX_RATE}"
                )
            if -price.as_tuple().exponent > RATE_PLACES and price != price.quantize(
                Decimal(1).scaleb(-RATE_PLACES)
            ):
                raise RatesFileError(
                    f"{where}: usd_per_minute {row['usd_per_minute']!r} has more than "
                    f"{RATE_PLACES} decimal places"
                )
            enabled_text = row.get("enabled", "").lower()
            if enabled_text not in ("", "true", "false"):
                raise RatesFileError(f"{where}: enabled must be true or false, not {row['enabled']!r}")
            rates.append(
                Rate(
                    runner,
                    start,
                    end,
                    price,
                    enabled_text != "false",
                    row.get("description", ""),
                    source,
                    line,
                )
            )
    except csv.Error as exc:
        raise RatesFileError(f"{source}, line {reader.line_num}: not valid CSV ({exc})") from None
    if not rates:
        raise RatesFileError(f"{source}: no rates are listed")
    return RateTable(rates)


@lru_cache(maxsize=1)
def shipped_rates() -> RateTable:
    """The rates shipped with the package."""
    text = resources.files("usage_archive.github_actions").joinpath(SHIPPED_FILE).read_text(encoding="utf-8")
    return parse_rates(text, source=f"usage_archive/github_actions/{SHIPPED_FILE}")


def load_rates(user_file: str | Path | None = None) -> RateTable:
    """The shipped rates, with the runners a user file names taken from that file."""
    if not user_file:
        return shipped_rates()
    path = Path(user_file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RatesFileError(f"the rates file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise RatesFileError(f"cannot read the rates file {str(path)!r}: {exc.strerror}") from None
    return shipped_rates().overridden_by(parse_rates(text, source=str(path)))
