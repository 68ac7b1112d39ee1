"""`make demo` / `usage-archive demo`: the whole pipeline on embedded defaults, without network.

A local PostgreSQL (127.0.0.1:5432, or a throwaway one), a demo billing database with several months of synthetic
rows, the archive of ARCHIVE_URL (by default `.archive/` in the working directory), and a Dagster instance in
`.dagster_home/` so that `dagster dev` shows the same runs afterwards. Then two weeks of CI usage: a generated
CircleCI export imported through the import path, and GitHub Actions runs and billing ledger collected from a
sample GitHub served on 127.0.0.1 (demo/github_sample.py), and each week's cost table by team. The demo sets
BILLING_DATABASE_URL, ARCHIVE_URL, DAGSTER_HOME and the GitHub settings in its own environment before it loads
the code location.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from usage_archive.periods import Month
from usage_archive.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_DATABASE = "usage_archive_demo"
COST_WEEKS = ("2026-11-02", "2026-11-09")  # the weeks of the CircleCI and GitHub samples


def _print_table(rows: list[tuple[str, ...]], headers: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    from usage_archive.demo.billing_db import load_billing_rows, load_billing_schema
    from usage_archive.devtools.local_postgres import PostgresUnavailable, find_or_start

    month = Month.last_ended()
    try:
        postgres = find_or_start()
    except PostgresUnavailable as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    database_url = postgres.create_database(DEMO_DATABASE)
    load_billing_schema(database_url)
    counts = load_billing_rows(database_url, last_month=month.first_day, months=3, scale=20_000)
    print(
        f"demo billing database {DEMO_DATABASE} on {postgres.admin_url.rsplit('/', 1)[0]}: "
        + ", ".join(f"{t} {n}" for t, n in counts.items())
    )

    archive_url = Settings.from_env().archive_url
    dagster_home = PROJECT_ROOT / ".dagster_home"
    dagster_home.mkdir(exist_ok=True)
    instance_config = dagster_home / "dagster.yaml"
    local_config = PROJECT_ROOT / "dagster.yaml"  # the local instance settings (SQLite storage, no Postgres)
    if not instance_config.exists():
        instance_config.write_text(
            local_config.read_text() if local_config.is_file() else "telemetry:\n  enabled: false\n"
        )
    from usage_archive.demo.github_sample import REPOSITORIES_FILE, TOKEN, SampleGitHubServer

    stack = ExitStack()
    github = stack.enter_context(SampleGitHubServer())
    os.environ.update(
        BILLING_DATABASE_URL=database_url,
        ARCHIVE_URL=archive_url,
        DAGSTER_HOME=str(dagster_home),
        GITHUB_TOKEN=TOKEN,
        GITHUB_API_URL=github.api_url,
        USAGE_ARCHIVE_REPOSITORIES=str(REPOSITORIES_FILE),
    )

    import dagster as dg

    from usage_archive.archive.layout import billing_manifest_key
    from usage_archive.archive.store import store_from_url
    from usage_archive.definitions import defs  # after the environment is set: resources read it

    store = store_from_url(archive_url)
    partition = month.key
    print(f"\nmaterializing billing month {month:%Y-%m} (partition {partition}) into {store.uri()} …")
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("billing_archive_job").execute_in_process(
            partition_key=partition, instance=instance, raise_on_error=False
        )
    key = billing_manifest_key(month)
    if store.exists(key):
        print(f"\nmanifest {store.uri(key)}:")
        print(store.get_bytes(key).decode())
    print("\nasset checks:")
    _print_table(
        sorted(
            (
                e.asset_key.to_user_string(),
                e.check_name,
                "PASSED" if e.passed else f"FAILED ({e.severity.value})",
            )
            for e in result.get_asset_check_evaluations()
        ),
        ("asset", "check", "result"),
    )
    demo_extras(store)
    with stack, dg.DagsterInstance.get() as instance:
        costs_ok = demo_costs(defs, instance, store, github.api_url)
    print(f"\nrun {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    print(
        "\nSee it in the Dagster UI (asset graph, partitions, run history, check results, the cost plots):\n"
        f"  DAGSTER_HOME={dagster_home} BILLING_DATABASE_URL={database_url} "
        f".venv/bin/dagster dev -w workspace.yaml\n  then open http://localhost:3000 (or: make dev)\n"
        "Rebuild a week's cost table from the archived files with the CLI:\n"
        f"  DAGSTER_HOME={dagster_home} USAGE_ARCHIVE_REPOSITORIES={_relative(REPOSITORIES_FILE)} "
        ".venv/bin/dagster asset materialize -m usage_archive.definitions --select ci_costs/weekly_by_team "
        f"--partition {COST_WEEKS[-1]}"
    )
    return 0 if result.success and costs_ok else 1


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def demo_extras(store: object) -> None:
    """Other sources' demo steps; each prints where its files landed."""
    from usage_archive.archive.layout import CIRCLECI_INCOMING_PREFIX
    from usage_archive.circleci.sample import demo_import_sample

    print(
        f"\nCircleCI: a generated sample usage export dropped into {CIRCLECI_INCOMING_PREFIX}/ and imported "
        "through the import path:"
    )
    for key in demo_import_sample(store):
        print(f"  {store.uri(key)}")  # type: ignore[attr-defined]


def demo_costs(defs: Any, instance: Any, store: Any, github_url: str) -> bool:
    """GitHub Actions runs and billing ledger of the sample weeks, then each week's cost table; prints the
    last week's table by team. True when every run succeeded."""
    from decimal import Decimal

    from usage_archive.archive.layout import ci_costs_key, github_billing_usage_key, github_workflow_runs_key
    from usage_archive.costs.summary import signed_usd, team_changes, usd
    from usage_archive.costs.week import previous_week_table, read_cost_file
    from usage_archive.defs.ci_costs.assets import WEEKLY_BY_TEAM
    from usage_archive.defs.github_actions.assets import BILLING_USAGE_KEY, WORKFLOW_RUNS_KEY
    from usage_archive.periods import Week

    print(
        f"\nGitHub Actions: a generated sample of GitHub API answers (organisation `example`, in GitHub's JSON "
        f"shapes; not recorded) served on {github_url}, no network and no real token; then the week's cost "
        "table by team (ci_costs/weekly_by_team):"
    )
    assets = {WORKFLOW_RUNS_KEY, BILLING_USAGE_KEY, WEEKLY_BY_TEAM}
    graph = defs.resolve_asset_graph()
    # The assets' own checks; not the freshness checks, which judge the newest week, not these sample weeks.
    checks = {c for c in graph.asset_check_keys if c.asset_key in assets and c.name != "freshness_check"}
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=assets, asset_check_selection=checks
    )
    results = []
    for key in COST_WEEKS:
        week = Week.parse(key)
        results.append(job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False))
        for object_key in (
            github_workflow_runs_key(week),
            github_billing_usage_key(week),
            ci_costs_key(week),
        ):
            if store.exists(object_key):
                print(f"  {store.uri(object_key)}")
    print("\nasset checks:")
    _print_table(
        sorted(
            (
                f"{e.asset_key.to_user_string()} {e.partition or ''}".strip(),
                e.check_name,
                "PASSED" if e.passed else f"FAILED ({e.severity.value})",
            )
            for r in results
            for e in r.get_asset_check_evaluations()
        ),
        ("asset", "check", "result"),
    )
    week = Week.parse(COST_WEEKS[-1])
    if not store.exists(ci_costs_key(week)):
        print(f"\nno cost table for the week of {week}: see the run log")
        return False
    table, info = read_cost_file(store.get_bytes(ci_costs_key(week)))
    print(
        f"\nCI cost by team, week of {week} (providers: {', '.join(info['providers']) or 'none'}; CircleCI: "
        f"credits × {info['usd_per_credit']} USD, an estimate; GitHub: the billing ledger's net amount):"
    )
    changes = team_changes(table, previous_week_table(store, week))
    this_week = sum((c.this_week for c in changes), Decimal(0))
    known = all(c.last_week is not None for c in changes)
    last_week = sum((c.last_week for c in changes), Decimal(0)) if known else None
    _print_table(
        [
            *((c.team, usd(c.this_week), usd(c.last_week), signed_usd(c.change)) for c in changes),
            (
                "total",
                usd(this_week),
                usd(last_week),
                signed_usd(None if last_week is None else this_week - last_week),
            ),
        ],
        ("team", "this week (USD)", "last week (USD)", "change (USD)"),
    )
    print("\nby provider and project:")
    _print_table(
        [
            (
                r["provider"],
                r["team"],
                r["project"],
                "" if r["jobs"] is None else str(r["jobs"]),
                usd(r["cost_usd"] if r["cost_usd"] is not None else Decimal(0)),
                r["cost_source"],
            )
            for r in table.to_pylist()
        ],
        ("provider", "team", "project", "jobs", "cost (USD)", "source"),
    )
    for note in info["notes"]:
        print(f"  note: {note}")
    return all(r.success for r in results)


if __name__ == "__main__":
    sys.exit(main())
