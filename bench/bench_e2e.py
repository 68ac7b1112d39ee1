"""End-to-end billing benchmark (`make bench-e2e`): one month through the real `dagster asset materialize`
command, against the pandas method this archive replaced on the same month, plus what start-up costs.

- ours_s: wall time of `dagster asset materialize --select group:billing --partition <month>` (a new process:
  interpreter, code location import, instance, the export step and the blocking and drift checks);
- export_s: the export step's own time, from the run's event log (step start to step success);
- seed_s: wall time of a new process running the pandas method (`pandas.read_sql` + `to_parquet(gzip)`, table
  after table, as the script before this archive did);
- import_s: a cold `import usage_archive.definitions` in a new process (median of --repeat).

The month is generated once in the database `usage_archive_bench_e2e` with the demo's schema and data script
(about --rows rows over the seven archived tables) and kept for the next run. Prints a table, then one JSON
object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATABASE = "usage_archive_bench_e2e"
MONTH = date(2026, 1, 1)
STEP = "billing_month_archive"
# Rows the demo data script writes per month for each unit of its `scale` (credit_checks 1, charges and
# llm_usage_logs 1/5, credits 1/100, google_play_purchases 1/250, admin_audit_logs 1/500).
ROWS_PER_SCALE = 1 + 1 / 5 + 1 / 5 + 1 / 100 + 1 / 250 + 1 / 500
MONTHLY_TABLES = (
    "credits",
    "charges",
    "google_play_purchases",
    "llm_usage_logs",
    "admin_audit_logs",
    "credit_checks",
)


def month_rows(url: str, month: date) -> int:
    import psycopg2

    start = f"{month:%Y-%m-01} 00:00:00+00"
    try:
        conn = psycopg2.connect(url)
    except psycopg2.OperationalError:
        return -1
    with conn, conn.cursor() as cur:
        total = 0
        for table in MONTHLY_TABLES:
            cur.execute("SELECT to_regclass(%s)", (table,))
            if cur.fetchone()[0] is None:
                return -1
            cur.execute(
                f"SELECT count(*) FROM {table} WHERE created_at >= %s::timestamptz "
                "AND created_at < %s::timestamptz + interval '1 month'",
                (start, start),
            )
            total += cur.fetchone()[0]
    conn.close()
    return total


def prepare(rows: int) -> tuple[str, int]:
    """The benchmark database with one generated month of about `rows` rows (made once, then reused)."""
    from usage_archive.demo.billing_db import load_billing_rows, load_billing_schema
    from usage_archive.devtools.local_postgres import admin_connection, find_or_start

    postgres = find_or_start()
    url = postgres.database_url(DATABASE)
    scale = round(rows / ROWS_PER_SCALE)
    expected = scale + 2 * (scale // 5) + scale // 100 + scale // 250 + scale // 500
    found = month_rows(url, MONTH)
    if found != expected:
        print(
            f"generating a {expected:,}-row month in {DATABASE} (once; kept for the next run) …", flush=True
        )
        postgres.create_database(DATABASE)
        load_billing_schema(url)
        load_billing_rows(url, last_month=MONTH, months=1, scale=scale)
        with admin_connection(url) as cur:
            cur.execute("VACUUM ANALYZE")
        found = month_rows(url, MONTH)
    return url, found


def seed_method(url: str, month: date, out: Path) -> None:
    """The pandas way: each table's month into a DataFrame, then a gzip Parquet file."""
    import pandas as pd
    import psycopg2

    start = f"'{month:%Y-%m-01} 00:00:00+00'::timestamptz"
    queries = {
        t: f"SELECT * FROM {t} WHERE created_at >= {start} AND created_at < {start} + interval '1 month'"
        for t in MONTHLY_TABLES
    }
    queries["accounts"] = "SELECT * FROM accounts"
    with psycopg2.connect(url) as conn:
        for table, query in queries.items():
            frame = pd.read_sql(query, conn)
            frame.to_parquet(out / f"{table}-{month:%Y-%m}.parquet.gz", compression="gzip", index=False)


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(
            f"{' '.join(cmd[:4])} … failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return seconds, done


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DAGSTER_HOME", "ARCHIVE_URL", "BILLING_DATABASE_URL", "AWS_ENDPOINT_URL")
    }
    return {**env, **extra}


def run_ours(url: str, month: date, work: Path) -> tuple[float, float]:
    """(wall seconds of the CLI run, the export step's own seconds from the event log)."""
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")  # the project's local instance settings
    env = clean_env(DAGSTER_HOME=str(home), BILLING_DATABASE_URL=url, ARCHIVE_URL=str(work / "archive"))
    dagster = str(Path(sys.executable).with_name("dagster"))
    seconds, _ = timed(
        [
            dagster,
            "asset",
            "materialize",
            "-m",
            "usage_archive.definitions",
            "--select",
            "group:billing",
            "--partition",
            f"{month:%Y-%m-01}",
        ],
        env,
        ROOT,
    )
    return seconds, step_seconds(home)


def step_seconds(home: Path) -> float:
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            [run] = instance.get_runs(limit=1)
            [stats] = [s for s in instance.get_run_step_stats(run.run_id) if s.step_key == STEP]
            return stats.end_time - stats.start_time
    finally:
        del os.environ["DAGSTER_HOME"]


def run_seed(url: str, month: date, work: Path) -> float:
    out = work / "seed"
    out.mkdir()
    seconds, _ = timed(
        [sys.executable, __file__, "--seed", "--url", url, "--month", month.isoformat(), "--out", str(out)],
        clean_env(),
        ROOT,
    )
    return seconds


def cold_import() -> float:
    code = (
        "import time; started = time.perf_counter(); import usage_archive.definitions; "
        "print(time.perf_counter() - started)"
    )
    _, done = timed([sys.executable, "-c", code], clean_env(), ROOT)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows of the generated month (all tables)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours and of the import (median kept)")
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--month", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed_method(args.url, date.fromisoformat(args.month), Path(args.out))
        return

    url, rows = prepare(args.rows)
    print(f"month {MONTH:%Y-%m}: {rows:,} rows in {DATABASE}", flush=True)
    imports = [cold_import() for _ in range(args.repeat)]
    ours: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        for i in range(args.repeat):
            work = Path(tmp) / f"ours-{i}"
            work.mkdir()
            ours.append(run_ours(url, MONTH, work))
        seed_s = run_seed(url, MONTH, Path(tmp))

    ours_s = statistics.median(o[0] for o in ours)
    export_s = statistics.median(o[1] for o in ours)
    import_s = statistics.median(imports)
    print(f"\n{'what':<62} {'seconds':>8}")
    for name, seconds in (
        ("ours: `dagster asset materialize` (new process, checks included)", ours_s),
        ("  of which the export step (event log)", export_s),
        ("seed: pandas.read_sql → to_parquet(gzip), new process", seed_s),
        ("cold `import usage_archive.definitions`", import_s),
    ):
        print(f"{name:<62} {seconds:>8.2f}")
    targets = {
        "ours <= export + 8 s": ours_s <= export_s + 8,
        "import <= 3 s": import_s <= 3,
        "seed / ours >= 2.5": seed_s / ours_s >= 2.5,
    }
    print(f"seed / ours = {seed_s / ours_s:.2f}; overhead ours - export = {ours_s - export_s:.2f} s")
    print("targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items()))
    print(
        json.dumps(
            {
                "rows": rows,
                "ours_s": round(ours_s, 3),
                "seed_s": round(seed_s, 3),
                "export_s": round(export_s, 3),
                "import_s": round(import_s, 3),
                "seed_over_ours": round(seed_s / ours_s, 2),
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
