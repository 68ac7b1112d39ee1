"""One weekly partitions definition with a fixed start: moving "today" forward only adds weeks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg

from usage_archive.defs.billing.partitions import billing_monthly_partitions
from usage_archive.defs.circleci.assets import usage_csv
from usage_archive.defs.circleci.partitions import build_partitions
from usage_archive.defs.github_actions.assets import workflow_runs
from usage_archive.defs.partitions import build_weekly_partitions, weekly_partitions
from usage_archive.periods import Week
from usage_archive.settings import DEFAULT_START_WEEK

TODAY = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)  # a Thursday


def keys_on(partitions: dg.PartitionsDefinition, moment: datetime) -> list[str]:
    return partitions.get_partition_keys(current_time=moment)


def test_the_partition_set_only_grows_as_today_moves_forward() -> None:
    now = keys_on(weekly_partitions, TODAY)
    a_year_later = keys_on(weekly_partitions, TODAY + timedelta(weeks=52))
    assert now[0] == a_year_later[0] == DEFAULT_START_WEEK.key
    assert a_year_later[: len(now)] == now  # every week of today is still there, in place
    assert len(a_year_later) == len(now) + 52  # and exactly the weeks that ended since were added


def test_only_weeks_that_have_ended_are_offered() -> None:
    keys = keys_on(weekly_partitions, TODAY)
    assert keys[-1] == Week.last_ended(TODAY.date()).key == "2026-11-16"
    assert all(Week.parse(k).key == k for k in keys)  # every key is a Monday
    monday_morning = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
    assert keys_on(weekly_partitions, monday_morning)[-1] == "2026-11-16"


def test_every_weekly_asset_shares_the_one_definition() -> None:
    assert workflow_runs.partitions_def == weekly_partitions
    assert usage_csv.partitions_def == weekly_partitions  # one CircleCI organisation (or none)
    several = build_partitions(("org-a", "org-b"))
    assert isinstance(several, dg.MultiPartitionsDefinition)
    week_dimension = next(d for d in several.partitions_defs if d.name == "week")
    assert week_dimension.partitions_def == weekly_partitions


def test_the_org_by_week_partitions_are_stable_too() -> None:
    several = build_partitions(("org-a", "org-b"), build_weekly_partitions(Week.parse("2026-10-05")))
    now = keys_on(several, TODAY)
    later = keys_on(several, TODAY + timedelta(weeks=4))
    assert set(now) < set(later)
    assert len(later) - len(now) == 2 * 4  # two organisations, four more weeks


def test_billing_months_start_at_a_fixed_month() -> None:
    keys = keys_on(billing_monthly_partitions, TODAY)
    assert keys[0] == "2024-01-01"
    assert keys[-1] == "2026-10-01"
    assert keys_on(billing_monthly_partitions, TODAY + timedelta(days=62))[: len(keys)] == keys
