"""Billing export benchmark (`make bench-billing`): our streaming ADBC → Parquet engine against the seed script's
`pandas.read_sql` + `to_parquet(compression="gzip")`, with the database's own binary COPY as the floor.

Each measurement runs in a fresh child process, so its peak RSS is its own. Times cover the export only (not the
interpreter start). Prints a table, then one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from usage_archive.devtools.local_postgres import admin_connection, find_or_start  # noqa: E402

DATABASE = "usage_archive_bench"
TABLE = "bench_credit_checks"
MONTH = date(2026, 1, 1)  # the 1x month
MONTH_3X = date(2026, 2, 1)  # three times as many rows

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id        uuid NOT NULL,
    created_at        timestamptz NOT NULL,
    required_credits  numeric(18, 6) NOT NULL,
    reason            text,
    context           jsonb,
    allowed           boolean NOT NULL,
    latency_ms        integer
);
CREATE INDEX IF NOT EXISTS {TABLE}_created_at ON {TABLE} (created_at);
"""


def fill(url: str, month: date, rows: int) -> None:
    start = f"{month:%Y-%m-01} 00:00:00+00"
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
        cur.execute(
            f"SELECT count(*) FROM {TABLE} WHERE created_at >= %s::timestamptz "
            f"AND created_at < %s::timestamptz + interval '1 month'",
            (start, start),
        )
        if cur.fetchone()[0] == rows:
            return
        cur.execute(
            f"DELETE FROM {TABLE} WHERE created_at >= %s::timestamptz "
            f"AND created_at < %s::timestamptz + interval '1 month'",
            (start, start),
        )
        cur.execute(
            f"""
            INSERT INTO {TABLE} (account_id, created_at, required_credits, reason, context, allowed, latency_ms)
            SELECT md5((g %% 5000)::text)::uuid,
                   %s::timestamptz + (interval '27 days') * (g::float8 / %s),
                   round((random() * 100)::numeric, 6),
                   CASE WHEN g %% 9 = 0 THEN 'insufficient_balance' WHEN g %% 13 = 0 THEN NULL ELSE 'ok' END,
                   jsonb_build_object('endpoint', '/v1/chat/completions', 'model', 'model-' || (g %% 7),
                                      'tokens', g %% 4096, 'région', 'eu-west-1'),
                   g %% 9 <> 0,
                   CASE WHEN g %% 20 = 0 THEN NULL ELSE (g %% 250) END
            FROM generate_series(1, %s) AS g""",
            (start, rows, rows),
        )
    with admin_connection(url) as cur:
        cur.execute(f"VACUUM ANALYZE {TABLE}")


def month_query(month: date) -> str:
    start = f"'{month:%Y-%m-01} 00:00:00+00'::timestamptz"
    return (
        f"SELECT * FROM {TABLE} WHERE created_at >= {start} AND created_at < {start} + interval '1 month' "
        "ORDER BY created_at, id"
    )


# ---- the three contenders, each run in its own child process ----


def run_ours(url: str, month: date, out: Path) -> int:
    from usage_archive.export.month import TableExport, export_tables
    from usage_archive.export.snapshot import open_snapshot

    with open_snapshot(url) as session:
        [archived] = export_tables(session, [TableExport(TABLE, TABLE, TABLE)], month, out, "zstd")
    return archived.result.records


def run_seed(url: str, month: date, out: Path) -> int:
    import pandas as pd

    with psycopg2.connect(url) as conn:
        frame = pd.read_sql(month_query(month), conn)
    frame.to_parquet(out / "seed.parquet.gz", compression="gzip", index=False)
    return len(frame)


def run_copy_floor(url: str, month: date, out: Path) -> int:
    psql = shutil.which("psql")
    sql = f"\\copy ({month_query(month)}) TO '/dev/null' WITH (FORMAT binary)"
    if psql:
        done = subprocess.run(
            [psql, url, "-v", "ON_ERROR_STOP=1", "-qc", sql], capture_output=True, text=True, check=True
        )
        return int(done.stdout.split()[-1]) if done.stdout.strip() else -1

    class Sink:
        def write(self, data: bytes) -> int:
            return len(data)

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.copy_expert(f"COPY ({month_query(month)}) TO STDOUT WITH (FORMAT binary)", Sink())
    return -1


CONTENDERS = {"ours": run_ours, "seed": run_seed, "copy_floor": run_copy_floor}


def child(name: str, url: str, month: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        rows = CONTENDERS[name](url, date.fromisoformat(month), Path(tmp))
        seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # psql for the floor
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": max(usage, children) / 1024}))


def measure(name: str, url: str, month: date) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", name, "--url", url, "--month", month.isoformat()],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours and the floor (median kept)")
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--month")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.month)
        return

    postgres = find_or_start()
    with admin_connection(postgres.admin_url) as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{DATABASE}"')
    url = postgres.database_url(DATABASE)
    print(
        f"preparing {args.rows:,} rows (1x) and {3 * args.rows:,} rows (3x) in {DATABASE}.{TABLE} …",
        flush=True,
    )
    fill(url, MONTH, args.rows)
    fill(url, MONTH_3X, 3 * args.rows)
    measure("ours", url, MONTH)  # warm the cache once

    results: dict[str, list[dict[str, float]]] = {"copy_floor": [], "ours": [], "seed": []}
    for _ in range(args.repeat):
        results["copy_floor"].append(measure("copy_floor", url, MONTH))
        results["ours"].append(measure("ours", url, MONTH))
    results["seed"].append(measure("seed", url, MONTH))
    ours_3x = measure("ours", url, MONTH_3X)

    def median(name: str, field: str) -> float:
        return statistics.median(r[field] for r in results[name])

    ours_s, seed_s, floor_s = (
        median("ours", "seconds"),
        median("seed", "seconds"),
        median("copy_floor", "seconds"),
    )
    ours_mb, seed_mb = median("ours", "peak_rss_mb"), median("seed", "peak_rss_mb")
    rows = [
        (
            "COPY … TO STDOUT (FORMAT binary) — floor",
            floor_s,
            median("copy_floor", "peak_rss_mb"),
            "1.00x floor",
        ),
        ("ours: ADBC → ParquetWriter zstd (streamed)", ours_s, ours_mb, f"{ours_s / floor_s:.2f}x floor"),
        ("seed: pandas.read_sql → to_parquet gzip", seed_s, seed_mb, f"{seed_s / ours_s:.1f}x ours"),
        (
            f"ours on the 3x month ({3 * args.rows:,} rows)",
            ours_3x["seconds"],
            ours_3x["peak_rss_mb"],
            f"peak {ours_3x['peak_rss_mb'] / ours_mb:.2f}x the 1x peak",
        ),
    ]
    print(f"\n{'method':<48} {'seconds':>8} {'peak RSS MB':>12}  ratio")
    for name, seconds, mb, ratio in rows:
        print(f"{name:<48} {seconds:>8.2f} {mb:>12.0f}  {ratio}")
    targets = {
        "ours <= 1.5x floor": ours_s <= 1.5 * floor_s,
        ">= 8x faster than seed": seed_s >= 8 * ours_s,
        "peak <= 300 MB": ours_mb <= 300,
        "3x peak within 10% of 1x": ours_3x["peak_rss_mb"] <= 1.10 * ours_mb,
    }
    print("targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items()))
    print(
        json.dumps(
            {
                "rows": args.rows,
                "ours_s": round(ours_s, 3),
                "seed_s": round(seed_s, 3),
                "copy_floor_s": round(floor_s, 3),
                "ours_peak_rss_mb": round(ours_mb, 1),
                "seed_peak_rss_mb": round(seed_mb, 1),
                "ours_peak_rss_mb_3x": round(ours_3x["peak_rss_mb"], 1),
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
