"""Weekly partitions (Monday 00:00 UTC) for the CircleCI usage assets, one org dimension when several
organisations are configured.

- One organisation (or none yet): plain weekly keys `YYYY-MM-DD` (the Monday), so `--partition 2026-11-16` and
  `--partition-range` work as for every other weekly asset, and objects sit flat in the CircleCI folder.
- Several (CIRCLECI_ORG_ID=a,b): `MultiPartitionsDefinition(org × week)` with keys `<org>|<YYYY-MM-DD>`; a
  backfill can select one org's row of partitions, and each org has its own folder.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import dagster as dg

from usage_archive.archive.layout import CircleCILayout
from usage_archive.circleci.api import CircleCISettingsError
from usage_archive.circleci.weekly import parse_org_ids
from usage_archive.periods import Week

ORG = "org"
WEEK = "week"


def circleci_org_ids() -> tuple[str, ...]:
    """The configured organisations. A malformed CIRCLECI_ORG_ID must not stop the whole code location from
    loading: it counts as unset here, and the CircleCI asset run fails with the parsing error instead."""
    try:
        return parse_org_ids(os.environ.get("CIRCLECI_ORG_ID"))
    except CircleCISettingsError:
        return ()


def circleci_start_week() -> str:
    """CIRCLECI_START_WEEK (a Monday), else the Monday 52 weeks back: the Usage API keeps about a year."""
    configured = os.environ.get("CIRCLECI_START_WEEK")
    if configured:
        return Week.parse(configured).key
    today = datetime.now(timezone.utc).date()
    return Week.containing(today - timedelta(weeks=52)).key


def build_partitions(org_ids: tuple[str, ...], start_week: str) -> dg.PartitionsDefinition:
    # end_offset=0: only weeks that are over are offered.
    weekly = dg.WeeklyPartitionsDefinition(start_date=start_week, day_offset=1, timezone="UTC", end_offset=0)
    if len(org_ids) <= 1:
        return weekly
    return dg.MultiPartitionsDefinition({ORG: dg.StaticPartitionsDefinition(list(org_ids)), WEEK: weekly})


CIRCLECI_ORG_IDS = circleci_org_ids()
CIRCLECI_LAYOUT = CircleCILayout(CIRCLECI_ORG_IDS)
circleci_weekly_partitions = build_partitions(CIRCLECI_ORG_IDS, circleci_start_week())


def split_partition_key(key: str, partitions_def: dg.PartitionsDefinition) -> tuple[str | None, Week]:
    """(org, week) of a partition key; org is None for plain weekly keys (the configured single org)."""
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        dims = partitions_def.get_partition_key_from_str(key).keys_by_dimension
        return dims[ORG], Week.parse(dims[WEEK])
    return None, Week.parse(key)


def partition_key_for(org_id: str, week: Week, partitions_def: dg.PartitionsDefinition) -> str:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return str(dg.MultiPartitionKey({ORG: org_id, WEEK: week.key}))
    return week.key
