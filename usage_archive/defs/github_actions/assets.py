"""`github_actions/workflow_runs`: one Parquet row per job attempt of every workflow run created in the week, and
`github_actions/billing_usage`: the week of GitHub's billing usage ledger (every product, exact decimals).

A partition range runs as a single run (the CLI's `--partition-range` needs that), one week after another; each
week is stored on its own, and a retried run resumes from the per-repository progress of the failed one. The two
assets do not depend on each other: a token without billing access fails `billing_usage` only.
"""

from typing import Any

import dagster as dg

from usage_archive.archive.layout import (
    GITHUB_ACTIONS_PREFIX,
    github_billing_usage_key,
    github_workflow_runs_manifest_key,
)
from usage_archive.archive.store import ArchiveStoreError
from usage_archive.dagster_helpers import as_failure
from usage_archive.defs.ci_costs import COSTS_GROUP
from usage_archive.defs.partitions import weekly_partitions
from usage_archive.github_actions.archive_file import WORKFLOW_RUNS_SCHEMA, ArchiveFileError, read_archive
from usage_archive.github_actions.billing_usage import BILLING_USAGE_SCHEMA, BillingUsageError
from usage_archive.github_actions.client import GitHubError, GitHubRateLimitError
from usage_archive.github_actions.collect import WeekCollection, collect_week, store_week
from usage_archive.github_actions.config import RepositoriesConfigError, load_repositories
from usage_archive.github_actions.ledger import (
    BillingAccessError,
    LedgerAccount,
    collect_ledger,
    ledger_accounts,
    ledger_file_bytes,
    ledger_summary,
)
from usage_archive.github_actions.metrics import WeekSummary, markdown_table, summarize
from usage_archive.github_actions.rates import RatesFileError
from usage_archive.periods import PeriodError, Week
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.github import GitHubResource

GROUP = "github_actions"
WORKFLOW_RUNS_KEY = dg.AssetKey(["github_actions", "workflow_runs"])
BILLING_USAGE_KEY = dg.AssetKey(["github_actions", "billing_usage"])
EXPECTED_ERRORS = (
    GitHubError,
    RepositoriesConfigError,
    RatesFileError,
    ArchiveStoreError,
    PeriodError,
    ArchiveFileError,
)


def summary_metadata(summary: WeekSummary) -> dict[str, Any]:
    """Numbers the UI plots across weeks, and tables for the latest week."""
    metadata: dict[str, Any] = {
        "runs": summary.runs,
        "jobs": summary.jobs,
        "billable_minutes": summary.billable_minutes,
        "minutes_by_team": dg.MetadataValue.md(
            markdown_table(["team", "billable minutes"], [[t, m] for t, m in summary.minutes_by_team.items()])
        ),
        "minutes_by_repository": dg.MetadataValue.md(
            markdown_table(
                ["repository", "billable minutes"], [[r, m] for r, m in summary.minutes_by_repository.items()]
            )
        ),
        "slowest_workflows": dg.MetadataValue.md(
            markdown_table(
                ["repository", "workflow", "path", "attempts", "mean s", "max s"],
                [
                    [
                        w["repository"],
                        w["workflow"],
                        w["path"],
                        w["attempts"],
                        w["mean_seconds"],
                        w["max_seconds"],
                    ]
                    for w in summary.slowest_workflows
                ],
            )
        ),
        "inactive_workflows": dg.MetadataValue.json(summary.inactive_workflows),
        "inactive_workflow_count": len(summary.inactive_workflows),
    }
    # One number per team, so each team's minutes plot as a trend over the weeks.
    metadata.update(
        {f"billable_minutes/{team}": minutes for team, minutes in summary.minutes_by_team.items()}
    )
    return metadata


@dg.asset(
    key=WORKFLOW_RUNS_KEY,
    group_name=GROUP,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"github", "parquet"},
    pool="github_api",
    description="Every job attempt of every GitHub Actions workflow run created in the week, for the "
    "repositories in USAGE_ARCHIVE_REPOSITORIES: times, queue and run seconds, runner and runner "
    "class, repository visibility, billable minutes, the OS multiplier and the estimated cost from the "
    f"dated rates table. Stored as {GITHUB_ACTIONS_PREFIX}/workflow-runs-<start>-to-<end>.parquet, then the "
    "week's manifest beside it (…-manifest.json: the file's bytes, SHA-256, rows and the API window), "
    "written last.",
)
def workflow_runs(
    context: dg.AssetExecutionContext,
    archive_store: ArchiveStoreResource,
    github: GitHubResource,
) -> dg.MaterializeResult:
    weeks: list[tuple[WeekCollection, WeekSummary]] = []
    try:
        config = load_repositories(github.repositories_file)
        rates = github.get_rates()
        store = archive_store.get_store()
        client = github.get_client(log=context.log.info)
        try:
            for key in context.partition_keys:
                context.log.info(f"collecting GitHub Actions week {key} into {store.uri()}")
                collection = collect_week(client, store, config, key, log=context.log.info, rates=rates)
                stored = store_week(store, collection, run_id=context.run.run_id)
                table, info = read_archive(store.get_bytes(stored.key))  # what the archive now holds
                weeks.append((collection, summarize(table, info)))
                context.log.info(f"stored {store.uri(stored.key)} ({table.num_rows} job attempts)")
        finally:
            client.close()
    except EXPECTED_ERRORS as exc:
        # A rate limit may clear: such a failure can be retried and resumes; the others need a fix first.
        raise as_failure(exc, retryable=(GitHubRateLimitError,)) from None

    collection, summary = weeks[-1]
    metadata = summary_metadata(summary)
    metadata.update(
        {
            "dagster/row_count": sum(s.jobs for _, s in weeks),
            "repositories": len(summary.minutes_by_repository),
            "resumed_repositories": dg.MetadataValue.json(collection.resumed),
            "github_requests": client.requests_made,
            "object": dg.MetadataValue.path(store.uri(stored.key)),
            "manifest": dg.MetadataValue.path(
                store.uri(github_workflow_runs_manifest_key(Week.parse(collection.partition_key)))
            ),
            "sha256": stored.sha256 or "",
            "bytes": stored.bytes,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(f.name, str(f.type)) for f in WORKFLOW_RUNS_SCHEMA]
            ),
        }
    )
    if len(weeks) > 1:
        metadata["by_week"] = dg.MetadataValue.json(
            {
                c.partition_key: {"runs": s.runs, "jobs": s.jobs, "billable_minutes": s.billable_minutes}
                for c, s in weeks
            }
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=BILLING_USAGE_KEY,
    # With the cost table it feeds: `group:github_actions` keeps selecting the runs alone, which need no billing
    # access.
    group_name=COSTS_GROUP,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"github", "parquet"},
    pool="github_api",
    description="GitHub's billing usage ledger for the week: every item (all products: Actions, Packages, "
    "Copilot, …) of each UTC day, for every organisation in USAGE_ARCHIVE_REPOSITORIES and the enterprise "
    "GITHUB_ENTERPRISE, with quantity, price, gross, discount and net amounts as exact decimals. Needs an "
    'organisation owner or billing manager token (fine-grained: "Administration: read"). Stored as '
    f"{GITHUB_ACTIONS_PREFIX}/billing-usage-<start>-to-<end>.parquet.",
)
def billing_usage(
    context: dg.AssetExecutionContext,
    archive_store: ArchiveStoreResource,
    github: GitHubResource,
) -> dg.MaterializeResult:
    accounts: list[LedgerAccount] = []
    try:
        config = load_repositories(github.repositories_file)
        accounts = ledger_accounts(config, github.enterprise)
        store = archive_store.get_store()
        client = github.get_client(log=context.log.info)
        try:
            for key in context.partition_keys:  # one week, or a range read in one run
                context.log.info(
                    f"reading the billing usage of {', '.join(a.account for a in accounts)} for the week of {key}"
                )
                ledger = collect_ledger(client, accounts, key, log=context.log.info)
                stored = store.put_bytes(github_billing_usage_key(ledger.week), ledger_file_bytes(ledger))
                context.log.info(f"stored {store.uri(stored.key)} ({ledger.table.num_rows} usage items)")
                summary = ledger_summary(ledger)
                # Each week's own figures on its own materialization, so a range run plots every week.
                context.add_asset_metadata(
                    {
                        "dagster/row_count": ledger.table.num_rows,
                        "items": ledger.table.num_rows,
                        # Plotted week over week; the exact figures are in `amounts_by_product`.
                        "actions_net_usd": float(summary.actions_net),
                        "net_usd": float(summary.net),
                        "amounts_by_product": dg.MetadataValue.md(summary.markdown()),
                        "object": dg.MetadataValue.path(store.uri(stored.key)),
                        "sha256": stored.sha256 or "",
                        "bytes": stored.bytes,
                    },
                    partition_key=key,
                )
        finally:
            client.close()
    except (*EXPECTED_ERRORS, BillingAccessError, BillingUsageError) as exc:
        raise as_failure(exc, retryable=(GitHubRateLimitError,)) from None
    return dg.MaterializeResult(
        metadata={
            "accounts": dg.MetadataValue.json([a.to_json() for a in accounts]),
            "github_requests": client.requests_made,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(f.name, str(f.type)) for f in BILLING_USAGE_SCHEMA]
            ),
        }
    )
