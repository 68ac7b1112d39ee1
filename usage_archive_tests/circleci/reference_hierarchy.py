"""The pure-Python hierarchy writer that `usage_archive.circleci.hierarchy` replaced, kept as the oracle its output
is compared with byte for byte (tests and `bench/bench_circleci.py`). Unchanged but for the timestamp rule (RFC 3339
in UTC, `dialect.timestamp_json`); it holds one record per job in memory, so only for tests and the benchmark.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO, NamedTuple, TextIO

from usage_archive.circleci.columns import (
    KNOWN_COLUMNS,
    NULL,
    UsageExportFormatError,
    credit_columns,
    credit_name,
    validate_header,
)
from usage_archive.circleci.dialect import timestamp_json

FORMAT = "usage_archive.circleci.hierarchical/1"
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?\Z")
_ZONE = re.compile(r"(?:[Zz]|[+-]\d{2}:?\d{2})\Z")
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f]')
_TRUE = frozenset({"true", "t", "1", "yes", "y"})
_FALSE = frozenset({"false", "f", "0", "no", "n"})
csv.field_size_limit(1 << 24)


@dataclass
class HierarchyResult:
    pipelines: int = 0
    workflows: int = 0
    jobs: int = 0
    rows: int = 0
    duplicates_dropped: int = 0
    credits: dict[str, Decimal] = field(default_factory=dict)
    organization_ids: list[str] = field(default_factory=list)


class _Number(NamedTuple):
    text: str  # as written in the JSON
    value: Decimal | None  # None for NULL


class _Job(NamedTuple):
    """Where one job's rendered text sits in the spill file, and how it sorts within its workflow."""

    queued_at: str
    job_name: str
    job_id: str
    offset: int
    length: int


class _Workflow(NamedTuple):
    sort_key: tuple[str, str, str]  # (first job queued at, workflow name, workflow id)
    text: str  # the workflow's own fields, rendered
    credits: list[Decimal]  # running sums, one per credit column
    jobs: list[_Job]


class _Pipeline(NamedTuple):
    sort_key: tuple[str, str]  # (created at, pipeline id)
    text: str  # the pipeline's own fields, rendered
    workflows: dict[str, _Workflow]


def _str(value: str) -> str:
    if value == NULL:
        return "null"
    if '"' in value or "\\" in value or not value.isprintable():
        return json.dumps(value, ensure_ascii=False)
    return f'"{value}"'


def _timestamp(value: str) -> str:
    text = timestamp_json(value)
    if text is None:
        raise UsageExportFormatError(f"not a timestamp: {value!r}")
    return text


class _Numbers:
    """Number rendering with the file name and line in every error."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.line = 0
        # Credits, counts and percentages repeat a lot: remember each distinct cell's text and value.
        self.cache: dict[str, _Number] = {"": _Number("null", None), NULL: _Number("null", None)}

    def credit(self, value: str, column: str) -> _Number:
        hit = self.cache.get(value)
        if hit is None:
            text = self.text(value, column)
            hit = _Number(text, Decimal(text))
            if len(self.cache) < 500_000:
                self.cache[value] = hit
        return hit

    def text(self, value: str, column: str) -> str:
        """The JSON text of a numeric cell: its own digits when already plain, else the exact Decimal."""
        hit = self.cache.get(value)
        if hit is not None:
            return hit.text
        if _PLAIN_NUMBER.match(value):
            return value
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise UsageExportFormatError(
                f"{self.source} line {self.line}: {column} is not a number: {value!r}"
            )
        return format(number, "f")

    def boolean(self, value: str, column: str) -> str:
        if value == NULL or value == "":
            return "null"
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return "true"
        if lowered in _FALSE:
            return "false"
        raise UsageExportFormatError(f"{self.source} line {self.line}: {column} is not a boolean: {value!r}")


def _credits_text(names: Sequence[str], values: Sequence[Decimal]) -> str:
    return "{" + ", ".join(f'"{n}": {format(v, "f")}' for n, v in zip(names, values, strict=False)) + "}"


def write_hierarchy(
    csv_path: str | os.PathLike[str],
    out: TextIO,
    *,
    source_name: str | None = None,
    period: dict[str, str] | None = None,
) -> HierarchyResult:
    """Read the merged CSV at `csv_path` and write the hierarchical JSON document to `out`."""
    # Millions of small tuples and no reference cycles: the cyclic GC would only rescan them again and again.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _write_hierarchy(csv_path, out, source_name=source_name, period=period)
    finally:
        if was_enabled:
            gc.enable()


def _write_hierarchy(
    csv_path: str | os.PathLike[str],
    out: TextIO,
    *,
    source_name: str | None,
    period: dict[str, str] | None,
) -> HierarchyResult:
    with tempfile.TemporaryFile(prefix="circleci-jobs-") as spill:
        return _group_and_write(csv_path, out, spill, source_name=source_name, period=period)


def _group_and_write(
    csv_path: str | os.PathLike[str],
    out: TextIO,
    spill: BinaryIO,
    *,
    source_name: str | None,
    period: dict[str, str] | None,
) -> HierarchyResult:
    source = source_name or os.fspath(csv_path)
    numbers = _Numbers(source)
    spilled = 0  # bytes written to `spill` so far
    num, boolean, credit = numbers.text, numbers.boolean, numbers.credit
    result = HierarchyResult()
    pipelines: dict[str, _Pipeline] = {}
    seen_jobs: set[Any] = set()
    orgs: set[str] = set()
    with open(csv_path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = validate_header(next(reader), source)
        except StopIteration:
            raise UsageExportFormatError(f"{source} is empty (no header row)") from None
        width = len(header)
        # Absent optional columns read the NULL appended to every row (index -1).
        at = {c: i for i, c in enumerate(header)}

        def col(name: str) -> int:
            return at.get(name, -1)

        credit_cols = credit_columns(header)
        credit_names = [credit_name(c) for c in credit_cols]
        credit_idx = [at[c] for c in credit_cols]
        credit_keys = [f'"{name}": ' for name in credit_names]
        extra_cols = [c for c in header if c not in _KNOWN_SET and c not in credit_cols]
        extra_idx = [at[c] for c in extra_cols]
        (
            org_id,
            org_name,
            org_created,
            proj_id,
            proj_name,
            proj_created,
            last_build,
            vcs_name,
            vcs_url,
            vcs_branch,
            pid_i,
            p_created,
            p_number,
            unregistered,
            trig_source,
            trig_user,
            wid_i,
            wf_name,
            wf_queued,
            wf_started,
            wf_stopped,
            wf_ok,
            job_name,
            run_number,
            job_id,
            run_date,
            queued,
            started,
            stopped,
            status,
            resource,
            os_i,
            executor,
            parallelism,
            seconds,
            cpu_med,
            cpu_max,
            ram_med,
            ram_max,
        ) = (col(c) for c in _LAYOUT)
        zero = [Decimal(0)] * len(credit_cols)
        line = 1
        for row in reader:
            line += 1
            if not row:
                continue
            if len(row) != width:
                raise UsageExportFormatError(
                    f"{source} line {line} has {len(row)} fields, the header has {width}"
                )
            numbers.line = line
            row.append(NULL)
            jid = row[job_id]
            key = jid if jid != NULL and jid != "" else (row[wid_i], row[job_name], row[run_number])
            if key in seen_jobs:
                result.duplicates_dropped += 1
                continue
            seen_jobs.add(key)
            result.rows += 1
            pid = row[pid_i]
            pipeline = pipelines.get(pid)
            if pipeline is None:
                created = _timestamp(row[p_created])
                orgs.add(row[org_id])
                pipeline = pipelines[pid] = _Pipeline(
                    (created, pid),
                    f'"pipeline_id": {_str(pid)}, "pipeline_number": {num(row[p_number], "PIPELINE_NUMBER")}, '
                    f'"created_at": {created}, '
                    f'"organization": {{"id": {_str(row[org_id])}, "name": {_str(row[org_name])}, '
                    f'"created_date": {_timestamp(row[org_created])}}}, '
                    f'"project": {{"id": {_str(row[proj_id])}, "name": {_str(row[proj_name])}, '
                    f'"created_date": {_timestamp(row[proj_created])}, '
                    f'"last_build_finished_at": {_timestamp(row[last_build])}}}, '
                    f'"vcs": {{"name": {_str(row[vcs_name])}, "url": {_str(row[vcs_url])}, '
                    f'"branch": {_str(row[vcs_branch])}}}, '
                    f'"trigger": {{"source": {_str(row[trig_source])}, "user_id": {_str(row[trig_user])}, '
                    f'"is_unregistered_user": {boolean(row[unregistered], "IS_UNREGISTERED_USER")}}}',
                    {},
                )
            workflows = pipeline.workflows
            wid = row[wid_i]
            workflow = workflows.get(wid)
            if workflow is None:
                first_queued = _timestamp(row[wf_queued])
                workflow = workflows[wid] = _Workflow(
                    (first_queued, row[wf_name], wid),
                    f'"workflow_id": {_str(wid)}, "workflow_name": {_str(row[wf_name])}, '
                    f'"first_job_queued_at": {first_queued}, '
                    f'"first_job_started_at": {_timestamp(row[wf_started])}, '
                    f'"stopped_at": {_timestamp(row[wf_stopped])}, '
                    f'"is_successful": {boolean(row[wf_ok], "IS_WORKFLOW_SUCCESSFUL")}',
                    list(zero),
                    [],
                )
            sums = workflow.credits
            credit_parts = []
            for n, i in enumerate(credit_idx):
                text, amount = credit(row[i], credit_cols[n])
                if amount is not None:
                    sums[n] += amount
                credit_parts.append(credit_keys[n] + text)
            queued_at = _timestamp(row[queued])
            job = (
                f'{{"job_id": {_str(jid)}, "job_name": {_str(row[job_name])}, '
                f'"job_run_number": {num(row[run_number], "JOB_RUN_NUMBER")}, '
                f'"run_date": {_timestamp(row[run_date])}, "queued_at": {queued_at}, '
                f'"started_at": {_timestamp(row[started])}, "stopped_at": {_timestamp(row[stopped])}, '
                f'"status": {_str(row[status])}, "resource_class": {_str(row[resource])}, '
                f'"operating_system": {_str(row[os_i])}, "executor": {_str(row[executor])}, '
                f'"parallelism": {num(row[parallelism], "PARALLELISM")}, '
                f'"duration_seconds": {num(row[seconds], "JOB_RUN_SECONDS")}, '
                f'"cpu_utilization_pct": {{"median": {num(row[cpu_med], "MEDIAN_CPU_UTILIZATION_PCT")}, '
                f'"max": {num(row[cpu_max], "MAX_CPU_UTILIZATION_PCT")}}}, '
                f'"ram_utilization_pct": {{"median": {num(row[ram_med], "MEDIAN_RAM_UTILIZATION_PCT")}, '
                f'"max": {num(row[ram_max], "MAX_RAM_UTILIZATION_PCT")}}}, '
                f'"credits": {{{", ".join(credit_parts)}}}'
            )
            if extra_cols:
                job += (
                    ', "extra": {'
                    + ", ".join(
                        f"{_str(c)}: {_str(row[i])}" for c, i in zip(extra_cols, extra_idx, strict=False)
                    )
                    + "}"
                )
            data = (job + "}").encode()
            spill.write(data)
            workflow.jobs.append(_Job(queued_at, row[job_name], jid, spilled, len(data)))
            spilled += len(data)
    result.organization_ids = sorted(orgs)
    spill.flush()
    fd = spill.fileno()
    # pread, not mmap: mapped pages would count in this process's resident memory
    _write_document(
        out,
        pipelines,
        credit_names,
        result,
        source,
        period,
        lambda offset, length: os.pread(fd, length, offset).decode(),
    )
    return result


def _write_document(
    out: TextIO,
    pipelines: dict[str, _Pipeline],
    credit_names: list[str],
    result: HierarchyResult,
    source: str,
    period: dict[str, str] | None,
    job_text: Callable[[int, int], str],
) -> None:
    """Totals first (computed from the grouped rows), then one pipeline at a time; each job's JSON text is read
    from the spill file at the offset recorded while grouping."""
    ordered = sorted(pipelines.values(), key=lambda p: p.sort_key)
    file_sums = [Decimal(0)] * len(credit_names)
    pipeline_sums: list[list[Decimal]] = []
    for pipeline in ordered:
        sums = [Decimal(0)] * len(credit_names)
        for workflow in pipeline.workflows.values():
            sums = [a + b for a, b in zip(sums, workflow.credits, strict=False)]
            result.workflows += 1
            result.jobs += len(workflow.jobs)
        pipeline_sums.append(sums)
        file_sums = [a + b for a, b in zip(file_sums, sums, strict=False)]
    result.pipelines = len(ordered)
    result.credits = dict(zip(credit_names, file_sums, strict=False))
    head = {"format": FORMAT, "source_csv": source}
    if period:
        head["period"] = period  # type: ignore[assignment]
    out.write("{\n")
    for name, value in head.items():
        out.write(f"  {json.dumps(name)}: {json.dumps(value, ensure_ascii=False)},\n")
    out.write(f'  "organization_ids": {json.dumps(result.organization_ids, ensure_ascii=False)},\n')
    out.write(
        f'  "totals": {{"pipelines": {result.pipelines}, "workflows": {result.workflows}, '
        f'"jobs": {result.jobs}, "credits": {_credits_text(credit_names, file_sums)}}},\n'
    )
    out.write('  "pipelines": [')
    for p_index, (pipeline, sums) in enumerate(zip(ordered, pipeline_sums, strict=False)):
        pieces = [
            ",\n    {" if p_index else "\n    {",
            pipeline.text,
            f', "credits": {_credits_text(credit_names, sums)}, "workflows": [',
        ]
        for w_index, workflow in enumerate(sorted(pipeline.workflows.values(), key=lambda w: w.sort_key)):
            pieces.append(",\n      {" if w_index else "\n      {")
            pieces.append(workflow.text)
            pieces.append(f', "credits": {_credits_text(credit_names, workflow.credits)}, "jobs": [')
            jobs = sorted(workflow.jobs, key=lambda j: (j.queued_at, j.job_name, j.job_id))
            pieces.append(",".join(f"\n        {job_text(j.offset, j.length)}" for j in jobs))
            pieces.append("\n      ]}")
        pieces.append("\n    ]}")
        out.write("".join(pieces))
    out.write("\n  ]\n}\n")


# The non-credit known columns, unpacked by position in write_hierarchy.
_LAYOUT = KNOWN_COLUMNS[: KNOWN_COLUMNS.index("COMPUTE_CREDITS")]
_KNOWN_SET = frozenset(KNOWN_COLUMNS)
