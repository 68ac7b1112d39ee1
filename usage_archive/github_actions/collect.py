"""Collect one week, repository by repository, resumably.

Each finished repository is saved under `github-actions-usage/.progress/<Monday>/done/<owner>/<name>.parquet`, and a
repository part-way through its runs every few hundred runs under `…/partial/…`; a retried run loads those instead
of asking GitHub again, so a run stopped by a rate limit or a crash resumes where it stopped. The progress
objects are deleted only after the week's file is stored.

Runs are those *created* in the week; every attempt of their jobs is kept (filter=all), also re-runs made after
the week ended. For a past week the listing is stable: no new run can be created in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from usage_archive.archive.store import ArchiveStore, StoredObject
from usage_archive.github_actions.archive_file import (
    RepositoryData,
    RunRecord,
    WorkflowRecord,
    parquet_bytes,
    repository_data_from_file,
    repository_table,
    rows_table,
    week_table,
)
from usage_archive.github_actions.config import RepositoriesConfig
from usage_archive.github_actions.rows import job_row
from usage_archive.github_actions.week import archive_key, progress_key, progress_prefix, week_bounds
from usage_archive.github_actions.windows import Window


class ActionsClient(Protocol):
    """What collect needs from the GitHub client (usage_archive.resources.github.GitHubClient)."""

    def list_org_repositories(self, organization: str) -> list[str]: ...
    def list_workflows(self, repository: str) -> list[dict[str, Any]]: ...
    def list_runs(self, repository: str, window: Window) -> list[dict[str, Any]]: ...
    def list_jobs(self, repository: str, run_id: int) -> tuple[list[dict[str, Any]], int]: ...


@dataclass
class WeekCollection:
    partition_key: str
    table: pa.Table  # with the run list in its metadata (archive_file.week_table)
    fetched: list[str] = field(default_factory=list)  # repositories asked from GitHub in this run
    resumed: list[str] = field(default_factory=list)  # repositories loaded from an earlier attempt's progress


def resolve_repositories(client: ActionsClient, config: RepositoriesConfig) -> list[tuple[str, str | None]]:
    """(owner/name, team) for every configured repository and every repository of the configured organisations;
    an explicitly listed repository keeps its own team."""
    resolved: dict[str, tuple[str, str | None]] = {}
    for entry in config.repositories:
        resolved[entry.full_name.lower()] = (entry.full_name, entry.team)
    for org in config.organizations:
        for name in client.list_org_repositories(org.organization):
            resolved.setdefault(name.lower(), (name, config.team_of(name, org.team)))
    return sorted(resolved.values(), key=lambda item: item[0].lower())


def collect_repository(
    client: ActionsClient,
    repository: str,
    team: str | None,
    window: Window,
    *,
    partial: RepositoryData | None = None,
    checkpoint: Callable[[RepositoryData], None] | None = None,
    checkpoint_every: int = 200,
) -> RepositoryData:
    """The repository's workflows, its runs created in the window and every job attempt of each run.

    `partial` holds runs an earlier attempt already fetched (their jobs are not asked again); `checkpoint` is
    called with everything so far after every `checkpoint_every` runs."""
    workflows = sorted(
        (
            WorkflowRecord(w["id"], w.get("name") or "", w.get("path") or "", w.get("state") or "")
            for w in client.list_workflows(repository)
        ),
        key=lambda w: w.workflow_id,
    )
    done = {r.run_id for r in partial.runs} if partial else set()
    tables = [partial.table] if partial else []
    runs: list[RunRecord] = list(partial.runs) if partial else []
    rows: list[dict[str, Any]] = []
    pending = [
        r for r in sorted(client.list_runs(repository, window), key=lambda r: r["id"]) if r["id"] not in done
    ]

    def so_far() -> RepositoryData:
        tables.append(rows_table(rows))  # rows become Arrow once; the list starts again
        rows.clear()
        return RepositoryData(
            repository, team, pa.concat_tables(tables), sorted(runs, key=lambda r: r.run_id), workflows
        )

    for count, run in enumerate(pending, start=1):
        jobs, total = client.list_jobs(repository, run["id"])
        rows += [job_row(repository, team, run, job) for job in jobs]
        runs.append(RunRecord(run["id"], run.get("run_attempt") or 1, run.get("workflow_id"), total))
        if checkpoint is not None and count % checkpoint_every == 0 and count < len(pending):
            checkpoint(so_far())
    return so_far()


def _with_team(data: RepositoryData, team: str | None) -> RepositoryData:
    """Progress saved under another team (repositories.yml changed between attempts) gets the current team."""
    if data.team == team:
        return data
    index = data.table.schema.get_field_index("team")
    column = pa.array([team] * data.table.num_rows, pa.string())
    return RepositoryData(
        data.repository, team, data.table.set_column(index, "team", column), data.runs, data.workflows
    )


def collect_week(
    client: ActionsClient,
    store: ArchiveStore,
    config: RepositoriesConfig,
    partition_key: str,
    log: Callable[[str], None] = lambda _message: None,
    checkpoint_every: int = 200,
) -> WeekCollection:
    """Every configured repository's week, from progress where an earlier attempt saved it, else from GitHub."""
    start, end = week_bounds(partition_key)
    window = Window.half_open(start, end)
    collection = WeekCollection(partition_key, pa.table({}))
    repositories: list[RepositoryData] = []
    for repository, team in resolve_repositories(client, config):
        key = progress_key(partition_key, repository)
        partial_key = progress_key(partition_key, repository, partial=True)
        if store.exists(key):
            data = _with_team(repository_data_from_file(store.get_bytes(key)), team)
            collection.resumed.append(repository)
            log(f"{repository}: resumed from {key} ({len(data.runs)} runs, {data.table.num_rows} jobs)")
        else:
            partial = None
            if store.exists(partial_key):
                partial = _with_team(repository_data_from_file(store.get_bytes(partial_key)), team)
                log(f"{repository}: resuming after {len(partial.runs)} runs saved by an earlier attempt")

            def checkpoint(data: RepositoryData, partial_key: str = partial_key) -> None:
                store.put_bytes(partial_key, parquet_bytes(repository_table(data, partition_key)))

            data = collect_repository(
                client,
                repository,
                team,
                window,
                partial=partial,
                checkpoint=checkpoint,
                checkpoint_every=checkpoint_every,
            )
            store.put_bytes(key, parquet_bytes(repository_table(data, partition_key)))
            store.delete(partial_key)
            collection.fetched.append(repository)
            log(f"{repository}: {len(data.runs)} runs, {data.table.num_rows} jobs")
        repositories.append(data)
    collection.table = week_table(repositories, partition_key)
    return collection


def store_week(store: ArchiveStore, collection: WeekCollection) -> StoredObject:
    """Store the week's Parquet file, then drop the progress that led to it."""
    stored = store.put_bytes(archive_key(collection.partition_key), parquet_bytes(collection.table))
    for item in list(store.list(progress_prefix(collection.partition_key))):
        store.delete(item.key)
    return stored
