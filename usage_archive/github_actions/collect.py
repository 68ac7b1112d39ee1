"""Collect one week, repository by repository, resumably.

Each finished repository is saved in the week's progress folder (`.progress/<Monday>/done/<owner>/<name>.parquet`,
archive/layout.py), and a repository part-way through its runs every few hundred runs under `…/partial/…`; a
retried run loads those instead
of asking GitHub again, so a run stopped by a rate limit or a crash resumes where it stopped. The progress
objects are deleted only after the week's file is stored.

Runs are those *created* in the week; every attempt of their jobs is kept (filter=all), also re-runs made after
the week ended. For a past week the listing is stable: no new run can be created in it. The repository's
visibility (which decides what its jobs cost) is asked once per repository and week.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from usage_archive.archive.layout import (
    github_progress_folder,
    github_progress_key,
    github_workflow_runs_key,
    github_workflow_runs_manifest_key,
)
from usage_archive.archive.parquet_footer import parquet_bytes
from usage_archive.archive.store import ArchiveStore, StoredObject
from usage_archive.export.manifest import build_week_manifest, stored_file_entry, write_manifest_at
from usage_archive.github_actions.archive_file import (
    INFO_KEY,
    RepositoryData,
    RunRecord,
    WorkflowRecord,
    repository_data_from_file,
    repository_table,
    rows_table,
    week_table,
)
from usage_archive.github_actions.config import RepositoriesConfig
from usage_archive.github_actions.rates import RateTable, shipped_rates
from usage_archive.github_actions.rows import VISIBILITIES, job_row
from usage_archive.github_actions.runners import NO_RUNNER_MAP, RunnerMap
from usage_archive.github_actions.windows import Window
from usage_archive.periods import Week


class ActionsClient(Protocol):
    """What collect needs from the GitHub client (usage_archive.github_actions.client.GitHubClient)."""

    def list_org_repositories(self, organization: str) -> list[str]: ...
    def get_repository(self, repository: str) -> dict[str, Any]: ...
    def list_workflows(self, repository: str) -> list[dict[str, Any]]: ...
    def list_runs(self, repository: str, window: Window) -> list[dict[str, Any]]: ...
    def list_jobs(self, repository: str, run_id: int) -> tuple[list[dict[str, Any]], int]: ...


@dataclass
class WeekCollection:
    partition_key: str  # the week's Monday, YYYY-MM-DD
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


def repository_visibility(repository_json: dict[str, Any]) -> str | None:
    """public / private / internal from the repository JSON; without `visibility` (older servers), from `private`."""
    visibility = repository_json.get("visibility")
    if isinstance(visibility, str) and visibility.lower() in VISIBILITIES:
        return visibility.lower()
    private = repository_json.get("private")
    return None if private is None else ("private" if private else "public")


def collect_repository(
    client: ActionsClient,
    repository: str,
    team: str | None,
    window: Window,
    *,
    partial: RepositoryData | None = None,
    checkpoint: Callable[[RepositoryData], None] | None = None,
    checkpoint_every: int = 200,
    runners: RunnerMap = NO_RUNNER_MAP,
    rates: RateTable | None = None,
) -> RepositoryData:
    """The repository's visibility and workflows, its runs created in the window and every job attempt of each
    run, priced with `rates` (the shipped rates by default).

    `partial` holds runs an earlier attempt already fetched (their jobs are not asked again); `checkpoint` is
    called with everything so far after every `checkpoint_every` runs."""
    rates = rates if rates is not None else shipped_rates()
    visibility = repository_visibility(client.get_repository(repository))
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
            repository,
            team,
            pa.concat_tables(tables),
            sorted(runs, key=lambda r: r.run_id),
            workflows,
            visibility,
        )

    for count, run in enumerate(pending, start=1):
        jobs, total = client.list_jobs(repository, run["id"])
        rows += [
            job_row(repository, team, run, job, visibility=visibility, runners=runners, rates=rates)
            for job in jobs
        ]
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
        data.repository,
        team,
        data.table.set_column(index, "team", column),
        data.runs,
        data.workflows,
        data.visibility,
    )


def collect_week(
    client: ActionsClient,
    store: ArchiveStore,
    config: RepositoriesConfig,
    week: str | Week,
    log: Callable[[str], None] = lambda _message: None,
    checkpoint_every: int = 200,
    rates: RateTable | None = None,
) -> WeekCollection:
    """Every configured repository's week, from progress where an earlier attempt saved it, else from GitHub;
    jobs priced with `rates` (the shipped rates by default) and runners identified with the config's map."""
    week = Week.parse(week)
    partition_key = week.key
    window = Window.half_open(*week.bounds)
    collection = WeekCollection(partition_key, pa.table({}))
    repositories: list[RepositoryData] = []
    for repository, team in resolve_repositories(client, config):
        key = github_progress_key(week, repository)
        partial_key = github_progress_key(week, repository, partial=True)
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
                runners=config.runners,
                rates=rates,
            )
            store.put_bytes(key, parquet_bytes(repository_table(data, partition_key)))
            store.delete(partial_key)
            collection.fetched.append(repository)
            log(f"{repository}: {len(data.runs)} runs, {data.table.num_rows} jobs")
        repositories.append(data)
    collection.table = week_table(repositories, partition_key)
    return collection


SOURCE = "github_actions"
TABLE = "workflow_runs"  # the manifest entry's `table`: the asset the file belongs to
RUNS_ENDPOINT = "GET /repos/{owner}/{repo}/actions/runs"


def week_provenance(collection: WeekCollection) -> dict[str, Any]:
    """Where the week came from, for its manifest: the API window and the repositories."""
    week = Week.parse(collection.partition_key)
    info = json.loads((collection.table.schema.metadata or {}).get(INFO_KEY, b"{}"))
    repositories = info.get("repositories", {})
    return {
        "api_window": {
            "endpoint": RUNS_ENDPOINT,
            "created": Window.half_open(*week.bounds).created_filter(),
            "jobs": "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs?filter=all",
        },
        "repositories": sorted(repositories),
        "runs": sum(len(entry.get("runs", [])) for entry in repositories.values()),
        "fetched_in_this_run": collection.fetched,
        "resumed_from_progress": collection.resumed,
    }


def store_week(store: ArchiveStore, collection: WeekCollection, run_id: str | None = None) -> StoredObject:
    """Store the week's Parquet file, then its manifest (written last: the file's key, bytes, SHA-256, rows and
    the API window), then drop the progress that led to it."""
    week = Week.parse(collection.partition_key)
    stored = store.put_bytes(github_workflow_runs_key(week), parquet_bytes(collection.table))
    entry = stored_file_entry(
        store,
        stored,
        table=TABLE,
        records=collection.table.num_rows,
        file_format="parquet",
        unit="job attempts",
    )
    manifest = build_week_manifest(
        source=SOURCE, week=week, files=[entry], provenance=week_provenance(collection), run_id=run_id
    )
    write_manifest_at(store, github_workflow_runs_manifest_key(week), manifest)
    for item in list(store.list(github_progress_folder(week))):
        store.delete(item.key)
    return stored
