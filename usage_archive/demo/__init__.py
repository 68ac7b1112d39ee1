"""`make demo` / `usage-archive demo`: the whole billing pipeline on embedded defaults.

A local PostgreSQL (127.0.0.1:5432, or a throwaway one), a demo billing database with several months of synthetic
rows, the local archive directory `.archive/`, and a Dagster instance in `.dagster_home/` so that `dagster dev`
shows the same run afterwards.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_DATABASE = "usage_archive_demo"


def last_complete_month(today: date | None = None) -> date:
    today = today or datetime.now(timezone.utc).date()
    first = today.replace(day=1)
    return (
        first.replace(year=first.year - 1, month=12)
        if first.month == 1
        else first.replace(month=first.month - 1)
    )


def _print_table(rows: list[tuple[str, ...]], headers: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    from usage_archive.demo.billing_db import load_billing_rows, load_billing_schema
    from usage_archive.devtools.local_postgres import PostgresUnavailable, find_or_start

    month = last_complete_month()
    try:
        postgres = find_or_start()
    except PostgresUnavailable as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    database_url = postgres.create_database(DEMO_DATABASE)
    load_billing_schema(database_url)
    counts = load_billing_rows(database_url, last_month=month, months=3, scale=20_000)
    print(
        f"demo billing database {DEMO_DATABASE} on {postgres.admin_url.rsplit('/', 1)[0]}: "
        + ", ".join(f"{t} {n}" for t, n in counts.items())
    )

    archive_dir = os.environ.get("ARCHIVE_URL") or str(PROJECT_ROOT / ".archive")
    dagster_home = PROJECT_ROOT / ".dagster_home"
    dagster_home.mkdir(exist_ok=True)
    instance_config = dagster_home / "dagster.yaml"
    if not instance_config.exists():  # local SQLite storage; the deployment's dagster.yaml needs Postgres
        instance_config.write_text("telemetry:\n  enabled: false\n")
    os.environ.update(
        BILLING_DATABASE_URL=database_url, ARCHIVE_URL=archive_dir, DAGSTER_HOME=str(dagster_home)
    )

    import dagster as dg

    from usage_archive.definitions import defs  # after the environment is set: resources read it
    from usage_archive.export.month import manifest_key
    from usage_archive.resources.archive_store import ArchiveStoreResource

    partition = f"{month:%Y-%m-01}"
    print(f"\nmaterializing billing month {month:%Y-%m} (partition {partition}) into {archive_dir} …")
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("billing_archive_job").execute_in_process(
            partition_key=partition, instance=instance, raise_on_error=False
        )
    store = ArchiveStoreResource(url=archive_dir).get_store()
    key = manifest_key(month)
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
    print(f"\nrun {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    print(
        "\nSee it in the Dagster UI (asset graph, partitions, run history, check results):\n"
        f"  DAGSTER_HOME={dagster_home} BILLING_DATABASE_URL={database_url} "
        f".venv/bin/dagster dev -m usage_archive.definitions\n  then open http://localhost:3000"
    )
    return 0 if result.success else 1


def demo_extras(store: object) -> None:
    """Other sources' demo steps; each prints where its files landed."""
    from usage_archive.circleci.sample import demo_import_sample

    print(
        "\nCircleCI: a generated sample usage export dropped into circleci-usage-data/incoming/ and imported "
        "through the import path:"
    )
    for key in demo_import_sample(store):
        print(f"  {store.uri(key)}")  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
