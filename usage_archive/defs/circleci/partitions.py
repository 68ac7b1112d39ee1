"""The CircleCI usage assets' partitions: the shared weekly partitions, with an org dimension when several
organisations are configured.

- One organisation (or none yet): the plain weekly keys `YYYY-MM-DD` (the Monday), so `--partition 2026-11-16`
  and `--partition-range` work as for every other weekly asset, and objects sit flat in the CircleCI folder.
- Several (CIRCLECI_ORG_ID=a,b): `MultiPartitionsDefinition(org × week)` with keys `<org>|<YYYY-MM-DD>`; a
  backfill can select one org's row of partitions, and each org has its own folder.
"""

from __future__ import annotations

import dagster as dg

from usage_archive.archive.layout import CircleCILayout
from usage_archive.defs.partitions import weekly_partitions
from usage_archive.periods import Week
from usage_archive.settings import Settings, SettingsError

ORG = "org"
WEEK = "week"


def circleci_org_ids(settings: Settings) -> tuple[str, ...]:
    """The configured organisations. A malformed CIRCLECI_ORG_ID must not stop the whole code location from
    loading: it counts as unset here, and the CircleCI asset run fails with the parsing error instead."""
    try:
        return settings.circleci_org_ids()
    except SettingsError:
        return ()


def build_partitions(
    org_ids: tuple[str, ...],
    weekly: dg.WeeklyPartitionsDefinition = weekly_partitions,
) -> dg.PartitionsDefinition:
    if len(org_ids) <= 1:
        return weekly
    return dg.MultiPartitionsDefinition({ORG: dg.StaticPartitionsDefinition(list(org_ids)), WEEK: weekly})


CIRCLECI_ORG_IDS = circleci_org_ids(Settings.from_env())
CIRCLECI_LAYOUT = CircleCILayout(CIRCLECI_ORG_IDS)
circleci_weekly_partitions = build_partitions(CIRCLECI_ORG_IDS)


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
