"""The rates table: shipped data with effective dates, a user file overriding runners, clear errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from usage_archive.github_actions.rates import RatesFileError, load_rates, parse_rates, shipped_rates

HEADER = "runner,effective_from,effective_to,usd_per_minute,enabled,description\n"


def test_the_shipped_rates_cover_both_sides_of_2026_01_01() -> None:
    rates = shipped_rates()
    last_day, first_day = date(2025, 12, 31), date(2026, 1, 1)
    expected = {
        "standard_linux": ("0.008", "0.006"),
        "standard_windows": ("0.016", "0.010"),
        "standard_macos": ("0.08", "0.062"),
        "standard_linux_slim": ("0.002", "0.002"),
        "linux_4_core": ("0.016", "0.012"),
        "linux_96_core": ("0.384", "0.252"),
        "windows_64_core": ("0.512", "0.322"),
        "linux_64_core_arm": ("0.160", "0.098"),
        "macos_l": ("0.12", "0.077"),
        "macos_xl": ("0.16", "0.102"),
    }
    for runner, (before, after) in expected.items():
        assert (rates.rate(runner, last_day), rates.rate(runner, first_day)) == (
            Decimal(before),
            Decimal(after),
        )
    assert rates.rate("standard_linux", date(2019, 1, 1)) == Decimal("0.008")
    assert rates.rate("self_hosted", date(2026, 6, 1)) is None  # shipped, but switched off
    assert rates.rate("linux_3_core", first_day) is None and rates.rate(None, first_day) is None
    assert len([r for r in rates.runners() if r.startswith(("linux_", "windows_", "macos_"))]) == 21


def test_a_user_file_replaces_the_runners_it_names_only(tmp_path: Path) -> None:
    user = tmp_path / "my-rates.csv"
    user.write_text(
        "\ufeff" + HEADER + "standard_linux,2026-01-01,,0.005,,contract price\n"
        "gpu_runner,,,1.25,true,our own SKU\n"
    )
    rates = load_rates(user)
    assert rates.rate("standard_linux", date(2026, 2, 1)) == Decimal("0.005")
    assert rates.rate("standard_linux", date(2025, 2, 1)) is None  # the shipped rows of that runner are gone
    assert rates.rate("gpu_runner", date(2026, 2, 1)) == Decimal("1.25")
    assert rates.rate("standard_macos", date(2026, 2, 1)) == Decimal("0.062")
    assert load_rates(None) is shipped_rates()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "runner,from,usd_per_minute\n",
            "line 1: the header lacks the column(s) effective_from, effective_to",
        ),
        ("runner,effective_from,effective_to,usd_per_minute,price\n", "has unknown column(s) price"),
        (
            "standard_linux,2026-01-01,,0.006,true,x\nstandard_linux,2026-06-01,,0.005,true,y\n",
            "line 3: the rate of 'standard_linux' from 2026-06-01 overlaps the one on rates.csv, line 2",
        ),
        (
            "standard_linux,,2025-12-31,0.008,true,x\nstandard_linux,2025-12-31,,0.006,true,y\n",
            "line 3: the rate",
        ),
        ("standard_linux,2026-13-01,,0.006,true,x\n", "line 2: effective_from '2026-13-01' is not a date"),
        ("standard_linux,2026-02-01,2026-01-01,0.006,true,x\n", "line 2: effective_to 2026-01-01 is before"),
        ("standard_linux,,,0,006,true,x\n", "line 2: 7 fields, the header has 6"),
        ("standard_linux,,,six,true,x\n", "line 2: usd_per_minute 'six' is not a decimal number"),
        ("standard_linux,,,-0.006,true,x\n", "line 2: usd_per_minute '-0.006' must be a number from 0"),
        ("standard_linux,,,NaN,true,x\n", "must be a number from 0"),
        (
            "standard_linux,,,0.0000001,true,x\n",
            "line 2: usd_per_minute '0.0000001' has more than 6 decimal places",
        ),
        ("standard_linux,,,0.006,yes,x\n", "line 2: enabled must be true or false, not 'yes'"),
        ("Linux 2-core,,,0.006,true,x\n", "line 2: runner 'Linux 2-core' must be a runner class or SKU"),
        ('standard_linux,,,0.006,true,"unclosed\n', "not valid CSV"),
        ("", "no rates are listed"),
    ],
)
def test_bad_rates_files_name_the_line(body: str, expected: str) -> None:
    text = body if body.startswith("runner,") else HEADER + body
    with pytest.raises(RatesFileError) as excinfo:
        parse_rates(text, source="rates.csv")
    assert str(excinfo.value).startswith("rates.csv")
    assert expected in str(excinfo.value)


def test_trailing_zeros_beyond_six_places_are_accepted() -> None:
    rates = parse_rates(HEADER + "standard_linux,,,0.00600000,true,x\n")
    assert rates.rate("standard_linux", date(2026, 1, 1)) == Decimal("0.006")


def test_a_missing_user_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RatesFileError, match="does not exist"):
        load_rates(tmp_path / "nope.csv")
