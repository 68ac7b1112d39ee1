"""CircleCI conversion benchmark: a synthetic export (CircleCI's dialect) in gzip parts → merged CSV +
hierarchical JSON.

Ours (usage_archive.circleci: raw-byte part merge checked by DuckDB, then the two-pass bucketed JSON writer)
against the naive method (pandas.read_csv of each part, concat, to_csv, nested Python loops building dicts,
json.dump), both on the same week; ours again on a week three times as large (memory must stay flat); and the
pure-Python writer ours replaced (usage_archive_tests/circleci/reference_hierarchy.py) on the same merged CSV,
whose JSON must be byte for byte ours. Each run is its own spawned process, which reports its own peak RSS.
Not a test: run `make bench-circleci` (or `.venv/bin/python bench/bench_circleci.py --rows 1000000`).
Prints a table, then one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_ours(parts: list[str], out_dir: str, queue: multiprocessing.Queue) -> None:
    from usage_archive.circleci.hierarchy import write_hierarchy
    from usage_archive.circleci.merge import merge_parts

    start = time.perf_counter()
    merged = Path(out_dir) / "ours.csv"
    merge = merge_parts(parts, merged)
    with open(Path(out_dir) / "ours.json", "w", encoding="utf-8") as out:
        result = write_hierarchy(merged, out, source_name="ours.csv")
    queue.put(
        {
            "seconds": time.perf_counter() - start,
            "peak_rss_mb": peak_rss_mb(),
            "rows": merge.rows,
            "jobs": result.jobs,
            "pipelines": result.pipelines,
        }
    )


def run_reference(parts: list[str], out_dir: str, queue: multiprocessing.Queue) -> None:
    """The writer ours replaced, on ours' merged CSV (parts unused)."""
    from usage_archive_tests.circleci.reference_hierarchy import write_hierarchy

    start = time.perf_counter()
    with open(Path(out_dir) / "reference.json", "w", encoding="utf-8") as out:
        result = write_hierarchy(Path(out_dir) / "ours.csv", out, source_name="ours.csv")
    queue.put(
        {
            "seconds": time.perf_counter() - start,
            "peak_rss_mb": peak_rss_mb(),
            "rows": result.rows,
            "jobs": result.jobs,
            "pipelines": result.pipelines,
        }
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_naive(parts: list[str], out_dir: str, queue: multiprocessing.Queue) -> None:
    import pandas as pd

    start = time.perf_counter()
    frames = [pd.read_csv(p, compression="gzip", na_values=["\\N"], keep_default_na=False) for p in parts]
    df = pd.concat(frames, ignore_index=True)
    df.to_csv(Path(out_dir) / "naive.csv", index=False)
    credit_cols = [c for c in df.columns if c.endswith("_CREDITS")]
    pipelines: dict = {}
    for record in df.to_dict("records"):
        pipeline = pipelines.setdefault(
            record["PIPELINE_ID"],
            {
                "pipeline_id": record["PIPELINE_ID"],
                "pipeline_number": record["PIPELINE_NUMBER"],
                "project": record["PROJECT_NAME"],
                "created_at": record["PIPELINE_CREATED_AT"],
                "workflows": {},
            },
        )
        workflow = pipeline["workflows"].setdefault(
            record["WORKFLOW_ID"],
            {"workflow_id": record["WORKFLOW_ID"], "workflow_name": record["WORKFLOW_NAME"], "jobs": {}},
        )
        job = {k.lower(): v for k, v in record.items() if not k.endswith("_CREDITS")}
        job["credits"] = {c[:-8].lower(): record[c] for c in credit_cols}
        workflow["jobs"][record["JOB_ID"]] = job  # duplicates collapse by JOB_ID
    document = []
    for pipeline in pipelines.values():
        workflows = []
        for workflow in pipeline["workflows"].values():
            workflow["jobs"] = list(workflow["jobs"].values())
            workflow["credits"] = {
                c[:-8].lower(): sum(
                    j["credits"][c[:-8].lower()]
                    for j in workflow["jobs"]
                    if j["credits"][c[:-8].lower()] == j["credits"][c[:-8].lower()]
                )  # skip NaN
                for c in credit_cols
            }
            workflows.append(workflow)
        pipeline["workflows"] = workflows
        document.append(pipeline)
    with open(Path(out_dir) / "naive.json", "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2, default=str)
    queue.put(
        {
            "seconds": time.perf_counter() - start,
            "peak_rss_mb": peak_rss_mb(),
            "rows": len(df),
            "jobs": sum(len(w["jobs"]) for p in document for w in p["workflows"]),
            "pipelines": len(document),
        }
    )


def in_child(target, parts: list[str], out_dir: str) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(parts, out_dir, queue))
    process.start()
    while True:  # a child that dies never answers: do not wait for it forever
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise SystemExit(f"{target.__name__} exited with {process.exitcode}") from None
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--large", type=int, default=3, help="the larger week is this many times --rows")
    parser.add_argument(
        "--workdir", default=None, help="where the synthetic exports go (default: a temp dir)"
    )
    args = parser.parse_args()

    from usage_archive.circleci.sample import write_parts

    def generate(directory: Path, rows: int) -> list[str]:
        started = time.perf_counter()
        parts = [str(p) for p in write_parts(directory, rows, args.parts, compresslevel=1)]
        size = sum(Path(p).stat().st_size for p in parts)
        print(
            f"generated {rows:,} rows in {args.parts} gzip parts ({size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        return parts

    with tempfile.TemporaryDirectory(prefix="bench-circleci-", dir=args.workdir) as tmp:
        week, large = Path(tmp) / "week", Path(tmp) / "large"
        week.mkdir()
        large.mkdir()
        parts = generate(week / "parts", args.rows)
        ours = in_child(run_ours, parts, str(week))
        reference = in_child(run_reference, parts, str(week))
        identical = sha256(week / "ours.json") == sha256(week / "reference.json")
        json_mb = {"ours": (week / "ours.json").stat().st_size / 1e6}
        for name in ("ours.csv", "reference.json"):
            (week / name).unlink()
        naive = in_child(run_naive, parts, str(week))
        json_mb["naive"] = (week / "naive.json").stat().st_size / 1e6
        for name in ("naive.json", "naive.csv", "ours.json"):
            (week / name).unlink()
        ours_large = in_child(run_ours, generate(large / "parts", args.rows * args.large), str(large))
        json_mb["ours 3x"] = (large / "ours.json").stat().st_size / 1e6

    print(f"{'method':<10} {'rows':>10} {'jobs':>10} {'seconds':>9} {'peak RSS MB':>12} {'JSON MB':>9}")
    for name, side in (("ours", ours), ("naive", naive), ("ours 3x", ours_large)):
        print(
            f"{name:<10} {side['rows']:>10,} {side['jobs']:>10,} {side['seconds']:>9.1f} "
            f"{side['peak_rss_mb']:>12.0f} {json_mb[name]:>9.0f}"
        )
    print(
        f"{'reference':<10} {'':>10} {reference['jobs']:>10,} {reference['seconds']:>9.1f} "
        f"{reference['peak_rss_mb']:>12.0f}   (the pure-Python writer ours replaced, JSON step only)"
    )
    speedup = naive["seconds"] / ours["seconds"]
    memory = ours["peak_rss_mb"] / naive["peak_rss_mb"]
    growth = ours_large["peak_rss_mb"] / ours["peak_rss_mb"]
    print(
        f"ours is {speedup:.1f}x faster than naive (target >= 10x); peak RSS {ours['peak_rss_mb']:.0f} MB "
        f"(target <= 300), {growth:.2f}x that at {args.large}x the rows (target <= 1.10); JSON byte for byte the "
        f"reference writer's: {identical}; same jobs as naive: {ours['jobs'] == naive['jobs']}"
    )
    print(
        json.dumps(
            {
                "rows": ours["rows"],
                "parts": args.parts,
                "ours_s": round(ours["seconds"], 2),
                "naive_s": round(naive["seconds"], 2),
                "ours_peak_rss_mb": round(ours["peak_rss_mb"]),
                "naive_peak_rss_mb": round(naive["peak_rss_mb"]),
                "speedup": round(speedup, 2),
                "rss_ratio": round(memory, 3),
                "jobs_equal": ours["jobs"] == naive["jobs"],
                "rows_3x": ours_large["rows"],
                "ours_s_3x": round(ours_large["seconds"], 2),
                "ours_peak_rss_mb_3x": round(ours_large["peak_rss_mb"]),
                "rss_growth_3x": round(growth, 3),
                "reference_s": round(reference["seconds"], 2),
                "json_identical_to_reference": identical,
            }
        )
    )


if __name__ == "__main__":
    main()
