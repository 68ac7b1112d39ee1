"""`github_actions/workflow_runs`: one Parquet row per job attempt of every workflow run created in the week.

A partition range runs as a single run (the CLI's `--partition-range` needs that), one week after another; each
week is stored on its own, and a retried run resumes from the per-repository progress of the failed one.
"""

from typing import Any

import dagster as dg

from usage_archive.archive.store import ArchiveStoreError
from usage_archive.defs.github_actions.partitions import github_actions_weekly_partitions
from usage_archive.github_actions.archive_file import WORKFLOW_RUNS_SCHEMA, ArchiveFileError, read_archive
from usage_archive.github_actions.collect import WeekCollection, collect_week, store_week
from usage_archive.github_actions.config import RepositoriesConfigError, load_repositories
from usage_archive.github_actions.metrics import WeekSummary, markdown_table, summarize
from usage_archive.github_actions.week import WeekError
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.github import GitHubError, GitHubRateLimitError, GitHubResource

GROUP = "github_actions"
WORKFLOW_RUNS_KEY = dg.AssetKey(["github_actions", "workflow_runs"])
EXPECTED_ERRORS = (GitHubError, RepositoriesConfigError, ArchiveStoreError, WeekError, ArchiveFileError)


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
    partitions_def=github_actions_weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"github", "parquet"},
    pool="github_api",
    description="Every job attempt of every GitHub Actions workflow run created in the week, for the "
    "repositories in USAGE_ARCHIVE_REPOSITORIES: times, queue and run seconds, runner, billable "
    "minutes and the OS multiplier. Stored as github-actions-usage/workflow-runs-<start>-to-<end>.parquet.",
)
def workflow_runs(
    context: dg.AssetExecutionContext,
    archive_store: ArchiveStoreResource,
    github: GitHubResource,
) -> dg.MaterializeResult:
    weeks: list[tuple[WeekCollection, WeekSummary]] = []
    try:
        config = load_repositories(github.repositories_file)
        store = archive_store.get_store()
        client = github.get_client(log=context.log.info)
        try:
            for key in context.partition_keys:
                context.log.info(f"collecting GitHub Actions week {key} into {store.uri()}")
                collection = collect_week(client, store, config, key, log=context.log.info)
                stored = store_week(store, collection)
                table, info = read_archive(store.get_bytes(stored.key))  # what the archive now holds
                weeks.append((collection, summarize(table, info)))
                context.log.info(f"stored {store.uri(stored.key)} ({table.num_rows} job attempts)")
        finally:
            client.close()
    except EXPECTED_ERRORS as exc:
        # A rate limit may clear: such a failure can be retried and resumes; the others need a fix first.
        raise dg.Failure(
            description=f"{type(exc).__name__}: {exc}", allow_retries=isinstance(exc, GitHubRateLimitError)
        ) from None

    collection, summary = weeks[-1]
    metadata = summary_metadata(summary)
    metadata.update(
        {
            "dagster/row_count": sum(s.jobs for _, s in weeks),
            "repositories": len(summary.minutes_by_repository),
            "resumed_repositories": dg.MetadataValue.json(collection.resumed),
            "github_requests": client.requests_made,
            "object": dg.MetadataValue.path(store.uri(stored.key)),
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
