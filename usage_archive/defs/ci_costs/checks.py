"""Blocking check of a stored week's cost table: it still adds up to what its sources hold (costs/verify.py).

It re-reads the table and every source file, so a failure means the table is out of date (a source was stored
again, added or removed after it was built) or wrong; materializing the week again rebuilds it.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from usage_archive.archive.layout import CircleCILayout, ci_costs_key
from usage_archive.archive.store import ArchiveStoreError
from usage_archive.circleci.columns import UsageExportFormatError
from usage_archive.costs.verify import cost_table_problems
from usage_archive.costs.week import CostFileError, read_cost_file
from usage_archive.dagster_helpers import partitioned_check_result
from usage_archive.defs.ci_costs.assets import WEEKLY_BY_TEAM
from usage_archive.defs.circleci.partitions import CIRCLECI_LAYOUT
from usage_archive.defs.partitions import weekly_partitions
from usage_archive.github_actions.archive_file import ArchiveFileError
from usage_archive.github_actions.ledger import LedgerFileError
from usage_archive.periods import Week
from usage_archive.resources.archive_store import ArchiveStoreResource

TOTALS_MATCH_SOURCES = "totals_match_sources"
READ_ERRORS = (
    ArchiveStoreError,
    CostFileError,
    ArchiveFileError,
    LedgerFileError,
    UsageExportFormatError,
    ValueError,
)


def build_ci_costs_checks(layout: CircleCILayout = CIRCLECI_LAYOUT) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        name="ci_costs_weekly_by_team_integrity",
        specs=[
            dg.AssetCheckSpec(
                TOTALS_MATCH_SOURCES,
                asset=WEEKLY_BY_TEAM,
                blocking=True,
                partitions_def=weekly_partitions,
                description="the stored table uses every source file the archive holds for the week, and its "
                "CircleCI jobs, credits and cost, GitHub job rows and ledger net Actions amount equal what "
                "those files add up to",
            )
        ],
    )
    def ci_costs_weekly_by_team_integrity(
        context: dg.AssetCheckExecutionContext,
        archive_store: ArchiveStoreResource,
    ) -> Iterator[dg.AssetCheckResult]:
        store = archive_store.get_store()
        problems: dict[str, list[str]] = {}
        figures: dict[str, Any] = {}
        for key in context.partition_keys:
            week = Week.parse(key)
            try:
                table, info = read_cost_file(store.get_bytes(ci_costs_key(week)))
                problems[key], figures[key] = cost_table_problems(store, week, table, info, layout)
            except READ_ERRORS as exc:
                problems[key] = [f"{type(exc).__name__}: {exc}"]
        yield partitioned_check_result(
            context,
            WEEKLY_BY_TEAM,
            TOTALS_MATCH_SOURCES,
            problems,
            metadata={"by_week": dg.MetadataValue.json(figures)},
        )

    return ci_costs_weekly_by_team_integrity


ci_costs_weekly_by_team_integrity = build_ci_costs_checks()
