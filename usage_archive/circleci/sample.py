"""A deterministic synthetic usage export in CircleCI's own dialect and with the values seen in real exports
(all 48 columns, every field quoted, `\\N` for NULL, UTC timestamps, dates in `*_CREATED_DATE`, gzip parts; see
docs/circleci.md). Used by the demo, the tests and the benchmark; never by production code paths."""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from usage_archive.circleci.columns import KNOWN_COLUMNS, NULL

SAMPLE_ORG_ID = "5a3c9e0e-1b2f-4c3d-9e8f-00000000cafe"
SAMPLE_WEEKS = (date(2026, 11, 2), date(2026, 11, 9))  # two whole weeks (Mondays), fixed for determinism
PROJECTS = ("api-server", "web-app", "mobile-ios", "data-pipelines", "infra")
# (RESOURCE_CLASS, EXECUTOR, OPERATING_SYSTEM) as CircleCI reports them, NULLs included.
RESOURCE_CLASSES = (
    ("medium", "docker", "linux"),
    ("large", "docker", "linux"),
    ("xlarge", "machine", "linux"),
    ("macos.m1.medium.gen1", "macos", "osx"),
    ("windows.medium", "windows", "windows"),
    ("example/self-hosted-linux", "runner", "linux"),
    (NULL, NULL, NULL),
)
VCS = ("github", "github", "github_app", "gitlab", "bitbucket")
BRANCHES = ("main", "main", "feature/x")
ODD_BRANCH = 'fix/say "hi", there'  # a quote (doubled in the file) and a comma, as real exports carry them
CREDIT_STEPS = ("0.1", "0.2", "0.3", "1.005", "12.345", "7", "0.07")  # sums of these show float noise
STATUSES = ("success", "success", "success", "failed", "canceled", "queued", "running")
JOB_NAMES = ("build", "test", "lint", "deploy", "integration-test")
ODD_JOB_NAME = "msbuild dir\\sub"  # a backslash, written as it is


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def sample_rows(
    rows: int,
    *,
    org_id: str = SAMPLE_ORG_ID,
    weeks: Sequence[date] = SAMPLE_WEEKS,
    seed: int = 7,
) -> Iterator[list[str]]:
    """Exactly `rows` job rows (the last pipeline may be cut short), spread evenly over the given weeks, with
    the values seen in real exports: `True`/`False`, dates in `*_CREATED_DATE`, `\\N` in JOB_NAME,
    JOB_RUN_NUMBER, RESOURCE_CLASS and the like, every executor, queued and running jobs."""
    rng = random.Random(seed)
    produced = pipeline = 0
    org_tag = org_id.replace("-", "")[:8]
    while produced < rows:
        pipeline += 1
        week = weeks[pipeline % len(weeks)]
        created = datetime.combine(week, time(), timezone.utc) + timedelta(
            seconds=rng.randrange(7 * 86400 - 7200)
        )
        project = rng.randrange(len(PROJECTS))
        pid = f"{org_tag}-0000-4000-8001-{pipeline:012x}"
        base = [
            org_id,
            "Example Org",
            "2019-04-01",
            f"{org_tag}-0000-4000-8000-{project:012x}",
            PROJECTS[project],
            "2020-01-15",
            rng.choice((NULL, _ts(created - timedelta(hours=3)))),
            rng.choice(VCS),
            f"https://github.com/example/{PROJECTS[project]}",
            ODD_BRANCH if pipeline % 50 == 7 else rng.choice(BRANCHES),
            pid,
            _ts(created),
            str(1000 + pipeline),
            rng.choice(("False", "False", "True")),
            rng.choice(("webhook", "api", "scheduled_pipeline")),
            rng.choice((f"user-{rng.randrange(40):03d}", NULL)),
        ]
        for workflow in range(rng.randrange(1, 4)):
            wid = f"{org_tag}-{workflow:04x}-4000-8002-{pipeline:012x}"
            queued = created + timedelta(seconds=5 + workflow * 30)
            jobs = rng.randrange(1, 6)
            stopped = queued + timedelta(seconds=60 * jobs + 30)
            status_of_jobs = [rng.choice(STATUSES) for _ in range(jobs)]
            running = any(s in ("queued", "running") for s in status_of_jobs)
            wf = [
                wid,
                f"workflow-{workflow}",
                _ts(queued),
                _ts(queued + timedelta(seconds=3)),
                NULL if running else _ts(stopped),
                NULL if running else rng.choice(("True", "True", "False")),
            ]
            for job in range(jobs):
                job_queued = queued + timedelta(seconds=job * 60)
                started = job_queued + timedelta(seconds=2)
                seconds = rng.randrange(5, 58)
                resource, executor, system = RESOURCE_CLASSES[rng.randrange(len(RESOURCE_CLASSES))]
                status = status_of_jobs[job]
                credits = [
                    Decimal(rng.choice(CREDIT_STEPS)),
                    Decimal(0),
                    Decimal(rng.choice(("0", "25"))),
                    Decimal(rng.choice(("0", "0.3"))),
                    Decimal(rng.choice(("0", "0.1"))),
                    Decimal(0),
                    Decimal(0),
                    Decimal(0),
                ]
                if status == "queued":
                    credits = [Decimal(0)] * len(credits)
                total = sum(credits, Decimal(0))
                credit_text = [str(c) for c in credits]
                if rng.random() < 0.05:
                    credit_text[1] = NULL  # no DLC figure at all: stays null
                unnamed = rng.random() < 0.02  # CircleCI leaves some jobs without name and run number
                row = (
                    base
                    + wf
                    + [
                        NULL
                        if unnamed
                        else ODD_JOB_NAME
                        if pipeline % 50 == 19 and job == 0
                        else JOB_NAMES[job % len(JOB_NAMES)],
                        NULL if unnamed else str(job + 1 + workflow * 10),
                        f"{org_tag}-{job:04x}-4{workflow:03x}-8003-{pipeline:012x}",
                        job_queued.strftime("%Y-%m-%d"),
                        _ts(job_queued),
                        NULL if status == "queued" else _ts(started),
                        NULL
                        if status in ("queued", "running")
                        else _ts(started + timedelta(seconds=seconds)),
                        status,
                        resource,
                        system,
                        executor,
                        str(rng.choice((1, 1, 2, 4))),
                        NULL if status == "queued" else str(seconds),
                        str(rng.randrange(5, 60)),
                        str(rng.randrange(60, 101)),
                        f"{rng.randrange(5, 60)}.5",
                        str(rng.randrange(60, 101)),
                    ]
                    + credit_text
                    + [str(total)]
                )
                produced += 1
                yield row
                if produced >= rows:
                    return


def write_export(
    path: str | os.PathLike[str],
    rows: Sequence[Sequence[str]] | Iterator[list[str]],
    *,
    columns: Sequence[str] = KNOWN_COLUMNS,
    compress: bool = True,
    compresslevel: int = 6,
    line_end: str = "\n",
    byte_order_mark: bool = False,
) -> Path:
    """One export file (gzip CSV when `compress`) in CircleCI's dialect: every field quoted (NULL as a quoted
    `"\\N"`), a quote inside a field doubled, backslashes as they are; its own header."""
    path = Path(path)
    with (
        open(path, "wb") as fh,
        (
            gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=compresslevel) if compress else nullcontext(fh)
        ) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
    ):
        if byte_order_mark:
            text.write("\ufeff")
        writer = csv.writer(text, lineterminator=line_end, quoting=csv.QUOTE_ALL)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def write_parts(
    directory: str | os.PathLike[str],
    rows: int,
    parts: int,
    *,
    org_id: str = SAMPLE_ORG_ID,
    weeks: Sequence[date] = SAMPLE_WEEKS,
    seed: int = 7,
    compresslevel: int = 6,
) -> list[Path]:
    """An export of about `rows` rows cut into `parts` gzip CSV parts (a pipeline may span two parts, as in
    real exports)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    per_part = -(-rows // parts)
    generator = sample_rows(rows, org_id=org_id, weeks=weeks, seed=seed)
    paths = []
    for index in range(parts):
        chunk = (
            row for _, row in zip(range(per_part if index < parts - 1 else 1 << 62), generator, strict=False)
        )
        paths.append(
            write_export(directory / f"usage-part-{index:03d}.csv.gz", chunk, compresslevel=compresslevel)
        )
    return paths


SAMPLE_NAME = "sample-usage-export.csv.gz"


def demo_import_sample(store: object, org_id: str = SAMPLE_ORG_ID, rows: int = 300) -> list[str]:
    """The demo: put a generated sample export (two fixed weeks, a few hundred rows) into incoming/, import it
    through the same code path as the sensor, derive each week's hierarchical JSON as the JSON asset does, and
    return the stored keys (CSV and JSON per week, then where the original went)."""
    import tempfile

    from usage_archive.archive.layout import CircleCILayout, circleci_incoming_key
    from usage_archive.circleci.incoming import import_export
    from usage_archive.circleci.weekly import archive_week_json

    layout = CircleCILayout((org_id,))
    key = circleci_incoming_key(SAMPLE_NAME)
    with tempfile.TemporaryDirectory(prefix="circleci-sample-") as tmp:
        path = write_export(Path(tmp) / SAMPLE_NAME, sample_rows(rows, org_id=org_id))
        store.put_file(key, path, content_type="application/gzip")  # type: ignore[attr-defined]
    result = import_export(store, key, layout)  # type: ignore[arg-type]
    keys: list[str] = []
    for week in result.weeks:
        keys += [week.csv_key, archive_week_json(store, layout, week.org_id, week.week).key]  # type: ignore[arg-type]
    return [*keys, result.moved_to]
