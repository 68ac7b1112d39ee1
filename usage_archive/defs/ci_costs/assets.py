"""`ci_costs/weekly_by_team`: one cost table per week across CI providers (week × provider × team × project).

Built from the week's stored files of `circleci/usage_csv`, `github_actions/workflow_runs` and, when it is
materialized, `github_actions/billing_usage` (usage_archive/costs/week.py). A source without a file for the week
is left out and the metadata says which providers the week covers: the table never fails for a source that is
not configured. It follows its sources by an automation condition (sensors.py), so a week's table is rebuilt
after any of them is stored again, and the UI plots each team's cost week over week.
"""

from decimal import Decimal
from pathlib import Path

import dagster as dg

from usage_archive.archive.layout import CI_COSTS_PREFIX, CircleCILayout, ci_costs_key
from usage_archive.archive.store import ArchiveStoreError
from usage_archive.circleci.columns import UsageExportFormatError
from usage_archive.costs.summary import plotted_costs, team_changes, team_markdown, workflows_markdown
from usage_archive.costs.week import CostFileError, build_cost_week, cost_file_bytes, previous_week_table
from usage_archive.costs.weekly import COST_SCHEMA, CostInputError
from usage_archive.dagster_helpers import as_failure
from usage_archive.defs.ci_costs import COSTS_GROUP
from usage_archive.defs.circleci.assets import USAGE_CSV
from usage_archive.defs.circleci.partitions import CIRCLECI_LAYOUT
from usage_archive.defs.github_actions.assets import BILLING_USAGE_KEY, WORKFLOW_RUNS_KEY
from usage_archive.defs.partitions import weekly_partitions
from usage_archive.github_actions.archive_file import ArchiveFileError
from usage_archive.github_actions.billing_usage import BillingUsageError
from usage_archive.github_actions.config import RepositoriesConfig, RepositoriesConfigError, load_repositories
from usage_archive.github_actions.ledger import LedgerFileError
from usage_archive.periods import PeriodError, Week
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.github import GitHubResource
from usage_archive.settings import Settings

WEEKLY_BY_TEAM = dg.AssetKey(["ci_costs", "weekly_by_team"])
EXPECTED_ERRORS = (
    ArchiveStoreError,
    ArchiveFileError,
    LedgerFileError,
    CostFileError,
    BillingUsageError,
    UsageExportFormatError,
    CostInputError,
    RepositoriesConfigError,
    PeriodError,
)

# Rebuild a week's table when any source of that week is stored again (of any week, not only the latest: an
# import or backfill of an old week updates its costs too), once no source is being written. Unlike eager(),
# a missing source does not hold the table back: a provider that is not configured is simply left out.
COSTS_FOLLOW_SOURCES = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.any_checks_match(dg.AutomationCondition.check_failed(), blocking_only=True)
    )
).with_label("costs_follow_sources")


def load_teams(path: str) -> tuple[RepositoriesConfig | None, str]:
    """repositories.yml's teams, or none when the file does not exist (every project is then `(no team)`);
    a malformed file fails the table, as a wrong team would be silently wrong."""
    if not Path(path).is_file():
        return None, f"{path} does not exist: every project is (no team)"
    return load_repositories(path), path


USD_PER_CREDIT = Settings.from_env().circleci_usd_per_credit  # CIRCLECI_USD_PER_CREDIT


def build_ci_costs_asset(
    layout: CircleCILayout = CIRCLECI_LAYOUT,
    usd_per_credit: Decimal = USD_PER_CREDIT,
) -> dg.AssetsDefinition:
    @dg.asset(
        key=WEEKLY_BY_TEAM,
        group_name=COSTS_GROUP,
        partitions_def=weekly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[USAGE_CSV, WORKFLOW_RUNS_KEY, BILLING_USAGE_KEY],
        kinds={"parquet"},
        automation_condition=COSTS_FOLLOW_SOURCES,
        description="The week's CI cost across providers: one row per provider × team × project/repository "
        "with jobs, minutes, credits (CircleCI), cost in USD, cost_source (ledger or estimate) and the price "
        f"used. CircleCI: TOTAL_CREDITS × CIRCLECI_USD_PER_CREDIT ({usd_per_credit}); GitHub: the billing "
        "ledger's net amount where it is archived, else the estimate from the rates table. Teams from "
        "USAGE_ARCHIVE_REPOSITORIES (CircleCI projects matched by their VCS URL). Stored as "
        f"{CI_COSTS_PREFIX}/ci-costs-<start>-to-<end>.parquet.",
    )
    def weekly_by_team(
        context: dg.AssetExecutionContext,
        archive_store: ArchiveStoreResource,
        github: GitHubResource,
    ) -> dg.MaterializeResult:
        store = archive_store.get_store()
        try:
            teams, teams_source = load_teams(github.repositories_file)
            for key in context.partition_keys:  # one week, or a range built in one run
                week = Week.parse(key)
                result = build_cost_week(
                    store,
                    week,
                    circleci_layout=layout,
                    teams=teams,
                    usd_per_credit=usd_per_credit,
                    log=context.log.info,
                )
                stored = store.put_bytes(ci_costs_key(week), cost_file_bytes(result))
                changes = team_changes(result.table, previous_week_table(store, week))
                context.log.info(
                    f"stored {store.uri(stored.key)}: {result.table.num_rows} rows, providers "
                    f"{', '.join(result.providers) or 'none'}"
                )
                # Each week's own figures on its own materialization, so a range run plots every week.
                context.add_asset_metadata(
                    {
                        **plotted_costs(changes),
                        "dagster/row_count": result.table.num_rows,
                        "providers": dg.MetadataValue.json(result.providers),
                        "missing_providers": dg.MetadataValue.json(result.missing),
                        "notes": dg.MetadataValue.md(
                            "\n".join(f"- {n}" for n in result.notes) or "every source was used"
                        ),
                        "cost_by_team": dg.MetadataValue.md(team_markdown(changes)),
                        "most_expensive_workflows": dg.MetadataValue.md(workflows_markdown(result.workflows)),
                        "sources": dg.MetadataValue.json(result.sources),
                        "object": dg.MetadataValue.path(store.uri(stored.key)),
                        "sha256": stored.sha256 or "",
                        "bytes": stored.bytes,
                    },
                    partition_key=key,
                )
        except EXPECTED_ERRORS as exc:
            raise as_failure(exc) from None
        return dg.MaterializeResult(
            metadata={
                "usd_per_credit": str(usd_per_credit),
                "teams_from": teams_source,
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(f.name, str(f.type)) for f in COST_SCHEMA]
                ),
            }
        )

    return weekly_by_team


weekly_by_team = build_ci_costs_asset()
