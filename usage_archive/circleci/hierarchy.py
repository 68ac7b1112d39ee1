"""Merged usage CSV → hierarchical JSON: pipelines → workflows → jobs, with every `*_CREDITS` column in a
`credits` object and exact credit roll-ups per workflow, per pipeline and for the file.

Order is deterministic (pipelines by creation time, workflows by first queued job, jobs by queue time, ties
broken by name, id and then file order), whatever order the parts arrived in. Duplicate job rows (same JOB_ID,
or the same workflow, job name and run number when JOB_ID is NULL) collapse to the first one. A pipeline's and a
workflow's own fields come from their first row. Credits are summed exactly and written with the digits their
values have (`0.1 + 0.2` is `0.3`); NULL (`\\N`) stays null.

Memory stays bounded whatever the week's size (a two-pass bucketed writer):
1. DuckDB reads the CSV (strictly) and renders each job's JSON in SQL (`export_sql`), and a pipeline's
   (workflow's) own fields where it changes from the row before (`_changed`); the rows go, in file order, to
   one of several bucket files by their pipeline (Arrow IPC on disk), so that every pipeline is whole in one
   bucket and a bucket holds a few MB whatever the week's size;
2. each bucket is grouped, summed and ordered with Arrow's compute functions and numpy (vectorised, no Python
   loop over rows) into its pipelines' finished text, in order, with an index (sort key → byte range);
3. the document is written: head and totals first, then the buckets' pipelines merged by sort key.
A job repeated under two different pipelines (which CircleCI's data does not have) is collapsed only when both
land in the same bucket; otherwise both stay, and the JSON's job-count check reports it.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import MAX_PREC, Context, Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TextIO, Union

from usage_archive.circleci import dialect, export_sql
from usage_archive.circleci.columns import (
    KNOWN_COLUMNS,
    UsageExportFormatError,
    credit_columns,
    credit_name,
    validate_header,
)
from usage_archive.circleci.export_sql import escaped_sql, ident, literal, plain_sql, render
from usage_archive.circleci.write_behind import write_behind

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT = "usage_archive.circleci.hierarchical/1"
_KNOWN_SET = frozenset(KNOWN_COLUMNS)
# A bucket's rows take about this much memory while it is grouped; the number of buckets follows the file's size.
BUCKET_BYTES = 12 << 20
_RENDERED_PER_CSV_BYTE = 2.5  # a row's rendered pieces and keys against its CSV text, roughly
BATCH_ROWS = 8192
PENDING_BYTES = 12 << 20  # step 1's rows held back before they are written to their buckets
ESCAPED = "escaped"  # the per-row flag of `export_sql.escaped_sql`
PLAIN = "plain"  # the per-row flag of `export_sql.plain_sql`
WRITE_BUFFER = 1 << 20  # the document is written in chunks of about this size
INDEX_BATCH_ROWS = 128

# The document's layout: JSON key → CSV column, or → a nested object of the same shape.
Layout = Sequence[tuple[str, Union[str, "Layout"]]]
PIPELINE_FIELDS: Layout = (
    ("pipeline_id", "PIPELINE_ID"),
    ("pipeline_number", "PIPELINE_NUMBER"),
    ("created_at", "PIPELINE_CREATED_AT"),
    (
        "organization",
        (
            ("id", "ORGANIZATION_ID"),
            ("name", "ORGANIZATION_NAME"),
            ("created_date", "ORGANIZATION_CREATED_DATE"),
        ),
    ),
    (
        "project",
        (
            ("id", "PROJECT_ID"),
            ("name", "PROJECT_NAME"),
            ("created_date", "PROJECT_CREATED_DATE"),
            ("last_build_finished_at", "LAST_BUILD_FINISHED_AT"),
        ),
    ),
    ("vcs", (("name", "VCS_NAME"), ("url", "VCS_URL"), ("branch", "VCS_BRANCH"))),
    (
        "trigger",
        (
            ("source", "PIPELINE_TRIGGER_SOURCE"),
            ("user_id", "PIPELINE_TRIGGER_USER_ID"),
            ("is_unregistered_user", "IS_UNREGISTERED_USER"),
        ),
    ),
)
WORKFLOW_FIELDS: Layout = (
    ("workflow_id", "WORKFLOW_ID"),
    ("workflow_name", "WORKFLOW_NAME"),
    ("first_job_queued_at", "WORKFLOW_FIRST_JOB_QUEUED_AT"),
    ("first_job_started_at", "WORKFLOW_FIRST_JOB_STARTED_AT"),
    ("stopped_at", "WORKFLOW_STOPPED_AT"),
    ("is_successful", "IS_WORKFLOW_SUCCESSFUL"),
)
JOB_FIELDS: Layout = (
    ("job_id", "JOB_ID"),
    ("job_name", "JOB_NAME"),
    ("job_run_number", "JOB_RUN_NUMBER"),
    ("run_date", "JOB_RUN_DATE"),
    ("queued_at", "JOB_RUN_QUEUED_AT"),
    ("started_at", "JOB_RUN_STARTED_AT"),
    ("stopped_at", "JOB_RUN_STOPPED_AT"),
    ("status", "JOB_BUILD_STATUS"),
    ("resource_class", "RESOURCE_CLASS"),
    ("operating_system", "OPERATING_SYSTEM"),
    ("executor", "EXECUTOR"),
    ("parallelism", "PARALLELISM"),
    ("duration_seconds", "JOB_RUN_SECONDS"),
    ("cpu_utilization_pct", (("median", "MEDIAN_CPU_UTILIZATION_PCT"), ("max", "MAX_CPU_UTILIZATION_PCT"))),
    ("ram_utilization_pct", (("median", "MEDIAN_RAM_UTILIZATION_PCT"), ("max", "MAX_RAM_UTILIZATION_PCT"))),
)
# A pipeline's (workflow's) own rendered fields and sort keys, which come from its first row. Step 1 renders
# them only where the pipeline (workflow) changes, found by the SQL function CHANGED (`_changed`).
PIPELINE_FIRST = ("phead", "p_created", "org")
WORKFLOW_FIRST = ("whead", "w_queued", "w_name")
CHANGED = "py_changed"
FirstRows = Callable[[Sequence[int]], dict[int, dict[str, str]]]  # row numbers → their first-row fields
# What goes between the pieces (the format's indentation).
FIRST_PIPELINE, NEXT_PIPELINE, PIPELINE_CLOSE = "\n    ", ",\n    ", "\n      ]}\n    ]}"
FIRST_WORKFLOW, NEXT_WORKFLOW = "\n      {", "\n      ]},\n      {"
FIRST_JOB, NEXT_JOB = "\n        ", ",\n        "
DOCUMENT_CLOSE = "\n  ]\n}\n"


@dataclass
class HierarchyResult:
    pipelines: int = 0
    workflows: int = 0
    jobs: int = 0
    rows: int = 0
    duplicates_dropped: int = 0
    credits: dict[str, Decimal] = field(default_factory=dict)
    organization_ids: list[str] = field(default_factory=list)


class _Text:
    """A SQL string expression built from literal text and rendered values (adjacent literals merged)."""

    def __init__(self) -> None:
        self.parts: list[tuple[bool, str]] = []  # (is literal, text or SQL)

    def text(self, value: str) -> _Text:
        if self.parts and self.parts[-1][0]:
            self.parts[-1] = (True, self.parts[-1][1] + value)
        else:
            self.parts.append((True, value))
        return self

    def sql(self, expression: str) -> _Text:
        self.parts.append((False, expression))
        return self

    def fields(self, layout: Layout, header: Sequence[str], rendered: dict[str, str] | None = None) -> _Text:
        """The layout's fields; `rendered` names columns already rendered (column → SQL)."""
        for index, (key, source) in enumerate(layout):
            self.text(("" if index == 0 else ", ") + f'"{key}": ')
            if isinstance(source, str):
                self.sql((rendered or {}).get(source) or render(source, header, ESCAPED, PLAIN))
            else:
                self.text("{").fields(source, header, rendered).text("}")
        return self

    def __str__(self) -> str:
        # One n-ary concat: a chain of `||` keeps an intermediate vector per step, tens of MB per thread for
        # long texts. (concat skips NULLs; a rendered value is never NULL: an invalid one stops the query.)
        return (
            "concat("
            + ", ".join(literal(text) if is_literal else text for is_literal, text in self.parts)
            + ")"
        )


def _job_sql(header: Sequence[str], credits: Sequence[str], rendered: dict[str, str] | None = None) -> str:
    rendered = rendered or {}
    job = _Text().text("{").fields(JOB_FIELDS, header, rendered).text(', "credits": {')
    for index, column in enumerate(credits):
        job.text(("" if index == 0 else ", ") + f'"{credit_name(column)}": ')
        job.sql(rendered.get(column) or render(column, header, ESCAPED, PLAIN))
    job.text("}")
    extra = [c for c in header if c not in _KNOWN_SET and c not in credits]
    if extra:
        job.text(', "extra": {')
        for index, column in enumerate(extra):
            job.text(("" if index == 0 else ", ") + f"{dialect.string_json(column)}: ")
            job.sql(render(column, header, ESCAPED, PLAIN))
        job.text("}")
    return str(job.text("}"))


def _flagged(source: str, header: Sequence[str]) -> str:
    """The rows of `source` with the per-row flags `render` uses (`ESCAPED`, `PLAIN`)."""
    escaped, plain = escaped_sql(header, header), plain_sql(header, header)
    return f"SELECT *, {escaped} AS {ESCAPED}, {plain} AS {PLAIN} FROM {source}"


def _value(column: str, header: Sequence[str]) -> str:
    """The raw value, or NULL's marker when the file lacks the (optional) column."""
    return ident(column) if column in header else literal("\\N")


def write_hierarchy(
    csv_path: str | os.PathLike[str],
    out: TextIO,
    *,
    source_name: str | None = None,
    period: dict[str, str] | None = None,
    bucket_bytes: int = BUCKET_BYTES,
) -> HierarchyResult:
    """Read the merged CSV at `csv_path` and write the hierarchical JSON document to `out`. Raises
    UsageExportFormatError (naming the file and line) for a file that cannot be read exactly."""
    source = source_name or os.fspath(csv_path)
    with open(csv_path, "rb") as fh:
        first = next(dialect.records(fh, source), None)
    if first is None:
        raise UsageExportFormatError(f"{source} is empty (no header row)")
    header = validate_header(first.fields, source)
    estimate = os.path.getsize(csv_path) * _RENDERED_PER_CSV_BYTE
    buckets = max(1, math.ceil(estimate / bucket_bytes))
    with tempfile.TemporaryDirectory(prefix="circleci-json-") as work:
        conversion = _Conversion(Path(work), csv_path, source, header)
        paths = conversion.split(buckets)
        built = _build_buckets(paths, conversion.names, conversion.first_rows)
        return _write_document(out, built, conversion.names, source, period)


class _Conversion:
    """Step 1: the CSV's rows, rendered, into bucket files."""

    def __init__(self, work: Path, path: str | os.PathLike[str], source: str, header: list[str]) -> None:
        self.work, self.path, self.source, self.header = work, path, source, header
        self.credits = credit_columns(header)
        self.names = [credit_name(c) for c in self.credits]

    def problem(self, error: Exception | None) -> UsageExportFormatError:
        with open(self.path, "rb") as fh:
            found = export_sql.locate_problem(fh, self.source, error)
        return found or export_sql.duckdb_problem(self.source, error)

    def first_row_sql(self) -> dict[str, str]:
        """SQL for each of `PIPELINE_FIRST` and `WORKFLOW_FIRST`: a pipeline's (workflow's) rendered fields
        and sort keys."""
        h = self.header
        return {
            "phead": str(_Text().fields(PIPELINE_FIELDS, h)),
            "p_created": render("PIPELINE_CREATED_AT", h, plain=PLAIN),
            "org": ident("ORGANIZATION_ID"),
            "whead": str(_Text().fields(WORKFLOW_FIELDS, h)),
            "w_queued": render("WORKFLOW_FIRST_JOB_QUEUED_AT", h, plain=PLAIN),
            "w_name": ident("WORKFLOW_NAME"),
        }

    def query(self, buckets: int) -> str:
        """Step 1's rows: bucket, keys, credits, the job's text, and `PIPELINE_FIRST` (`WORKFLOW_FIRST`) on
        the rows where the pipeline (workflow) changes from the row before (see `_changed`) and on every row
        with a typed value in another form than CircleCI's (rendering them checks those values: an invalid one
        stops the query). Values used twice are rendered once."""
        h = self.header
        rendered = {c: f"c{i}" for i, c in enumerate(self.credits)} | {"JOB_RUN_QUEUED_AT": "j_queued"}
        credits = ", ".join(f"{render(c, h, plain=PLAIN)} AS c{i}" for i, c in enumerate(self.credits))
        own = ", ".join(
            f"CASE WHEN {'new_p' if column in PIPELINE_FIRST else 'new_w'} THEN {sql} END AS {column}"
            for column, sql in self.first_row_sql().items()
        )
        return f"""SELECT CAST(hash({ident("PIPELINE_ID")}) % {buckets} AS INTEGER) AS bucket,
            {ident("PIPELINE_ID")} AS pid, {ident("WORKFLOW_ID")} AS wid, {ident("JOB_ID")} AS jid,
            {ident("JOB_NAME")} AS jname, {_value("JOB_RUN_NUMBER", h)} AS run, j_queued,
            {", ".join(f"c{i}" for i in range(len(self.credits)))},
            {_job_sql(h, self.credits, rendered)} AS job, {own}
            FROM (SELECT *, p_changed OR NOT {PLAIN} AS new_p, p_changed OR w_changed OR NOT {PLAIN} AS new_w
                FROM (SELECT *, {render("JOB_RUN_QUEUED_AT", h, plain=PLAIN)} AS j_queued, {credits},
                    {CHANGED}({ident("PIPELINE_ID")}) AS p_changed,
                    {CHANGED}({ident("WORKFLOW_ID")}) AS w_changed
                    FROM ({_flagged("cells", h)})))"""

    def split(self, buckets: int) -> list[Path]:
        """Run step 1's query and write its rows, numbered in file order (`rn`, from 1), to the bucket files.
        DuckDB's batches are small (a few thousand rows, i.e. a few dozen per bucket): batches are held back
        until `PENDING_BYTES` are waiting, then ordered by bucket at once (one copy) and every bucket gets one
        batch, so a bucket file is a few dozen batches that read back in one go rather than hundreds."""
        import duckdb
        import numpy as np
        import pyarrow as pa

        writers: dict[int, Any] = {}
        sinks: list[Any] = []
        paths: dict[int, Path] = {}
        pending: list[pa.RecordBatch] = []
        numbered = 0

        def flush() -> None:
            nonlocal numbered
            rows = pa.Table.from_batches(pending)
            pending.clear()
            rows = rows.append_column("rn", pa.array(np.arange(numbered + 1, numbered + rows.num_rows + 1)))
            numbered += rows.num_rows
            ids = rows.column("bucket").to_numpy()
            order = np.argsort(ids, kind="stable")  # stable: file order kept within a bucket
            rows, ids = rows.take(pa.array(order)).combine_chunks(), ids[order]
            starts = np.flatnonzero(np.diff(ids, prepend=-1))
            for start, end in zip(starts, [*starts[1:], len(ids)], strict=True):
                bucket = int(ids[start])
                writer = writers.get(bucket)
                if writer is None:
                    paths[bucket] = self.work / f"bucket-{bucket:05d}.arrow"
                    sinks.append(pa.OSFile(str(paths[bucket]), "wb"))
                    writer = writers[bucket] = pa.ipc.new_stream(sinks[-1], rows.schema)
                writer.write_table(rows.slice(start, end - start))

        try:
            with export_sql.connect() as con:
                con.create_function(
                    CHANGED,
                    lambda values: _changed(values),  # (DuckDB would evaluate `_changed`'s annotations)
                    ["VARCHAR"],
                    "BOOLEAN",
                    type="arrow",
                    null_handling="special",
                    side_effects=False,
                )
                export_sql.create_source(con, self.path, self.header)
                waiting = 0
                for batch in con.sql(self.query(buckets)).to_arrow_reader(BATCH_ROWS):
                    pending.append(batch)
                    waiting += batch.nbytes
                    if waiting > PENDING_BYTES:
                        flush()
                        waiting = 0
                if pending:
                    flush()
        except duckdb.Error as exc:
            raise self.problem(exc) from None
        finally:
            for writer in writers.values():
                writer.close()
            for sink in sinks:
                sink.close()
        return [paths[b] for b in sorted(paths)]

    def first_rows(self, rns: Sequence[int]) -> dict[int, dict[str, str]]:
        """`PIPELINE_FIRST` and `WORKFLOW_FIRST` of the given rows: first rows of pipelines (workflows) that
        step 1 did not render them on. Such a row follows one whose job repeats an earlier row's (that row was
        dropped, so this one is first), or, should DuckDB hand `_changed` rows that are not consecutive, sits
        at such a seam."""
        import pyarrow as pa

        sql = self.first_row_sql()
        with export_sql.connect() as con:
            export_sql.create_source(con, self.path, self.header)
            con.register("wanted", pa.table({"rn": pa.array(rns, pa.int64())}))
            found = con.sql(f"""SELECT rn, {", ".join(f"{s} AS {c}" for c, s in sql.items())}
                FROM ({_flagged("src", self.header)}) SEMI JOIN wanted USING (rn)""").fetchall()
        return {rn: dict(zip(sql, values, strict=True)) for rn, *values in found}


def _changed(values: pa.Array) -> pa.Array:
    """Per value: whether it differs from the one before it, the first one counting as different. DuckDB calls
    this on each vector of rows it reads, which are consecutive rows of the file: so it finds where the
    pipeline (workflow) changes, and marks the first row of every vector too (a few hundred extra rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) == 0:
        return pa.array([], pa.bool_())
    differs = pc.fill_null(pc.not_equal(values.slice(1), values.slice(0, len(values) - 1)), True)
    return pa.concat_arrays([pa.array([True]), differs])


class _Bucket(NamedTuple):
    """Step 2's result for one bucket: its pipelines' text, in order, and what the totals need."""

    path: Path  # the pipelines' text, one after the other, then the index (an Arrow IPC stream)
    text_bytes: int  # where the index starts
    pipelines: int
    workflows: int
    jobs: int
    rows: int  # read, repeated jobs included
    credits: list[str]  # per credit column, the bucket's exact sum as text
    organization_ids: set[str]


def _build_buckets(
    paths: Sequence[Path],
    names: Sequence[str],
    first_rows: FirstRows,
) -> list[_Bucket]:
    """Step 2 for every bucket. Writing a bucket's text (mostly the kernel's time) runs on a second thread
    while the next bucket is grouped, so at most two buckets' text is held at once."""
    built: list[_Bucket] = []
    with write_behind(lambda write: write(), ahead=1) as submit:
        for path in paths:
            write, bucket = _build_bucket(path, names, first_rows)
            submit(write)
            built.append(bucket)
    return built


def _build_bucket(
    path: Path, names: Sequence[str], first_rows: FirstRows
) -> tuple[Callable[[], None], _Bucket]:
    """Group, sum and order one bucket (all of its pipelines are here) with Arrow compute functions and numpy;
    returns the function that writes its text and index to a file beside the bucket's (whose rows it then
    removes), and what the totals need."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    with pa.memory_map(str(path)) as source:
        rows = pa.ipc.open_stream(source).read_all()  # the columns point into the file (no copy)
    read = rows.num_rows
    rows = _first_rows_of_jobs(rows)
    rn = rows.column("rn").to_numpy()
    # Pipelines and workflows as integer codes; rows are in file order, so a code's first row is its first.
    pid_code = _codes(rows.column("pid"))
    wid_code = _codes(rows.column("wid"))
    _, p_at, p_of_row = np.unique(pid_code, return_index=True, return_inverse=True)
    _, w_at, w_of_row = np.unique(
        pid_code * (int(wid_code.max()) + 1) + wid_code, return_index=True, return_inverse=True
    )
    # Their sort keys and own fields come from their first row.
    p_own, w_own = _from_first_rows(rows, rn, [(p_at, PIPELINE_FIRST), (w_at, WORKFLOW_FIRST)], first_rows)
    pipelines = pa.table({"pid": rows.column("pid").take(p_at)} | p_own)
    p_order = pc.sort_indices(pipelines, [("p_created", "ascending"), ("pid", "ascending")]).to_numpy()
    pipelines = pipelines.take(p_order)
    p_rank = np.empty(len(p_order), np.int64)
    p_rank[p_order] = np.arange(len(p_order))
    # Workflows, then jobs, in document order.
    workflows = pa.table({"p_rank": p_rank[p_of_row[w_at]], "wid": rows.column("wid").take(w_at)} | w_own)
    w_order = pc.sort_indices(
        workflows,
        [("p_rank", "ascending"), ("w_queued", "ascending"), ("w_name", "ascending"), ("wid", "ascending")],
    ).to_numpy()
    workflows = workflows.take(w_order)
    w_rank = np.empty(len(w_order), np.int64)
    w_rank[w_order] = np.arange(len(w_order))
    # Jobs are ordered by their keys alone; their text is taken once, at the end, by row position.
    job_order = pc.sort_indices(
        pa.table(
            {
                "w_rank": w_rank[w_of_row],
                "queued": rows.column("j_queued"),
                "name": rows.column("jname"),
                "jid": rows.column("jid"),
                "rn": rn,
            }
        ),
        [(key, "ascending") for key in ("w_rank", "queued", "name", "jid", "rn")],
    ).to_numpy()
    # Each workflow's jobs (each pipeline's workflows) are consecutive: sums are segment sums.
    j_rank = w_rank[w_of_row][job_order]
    p_of_w = workflows.column("p_rank").to_numpy()
    job_starts = np.flatnonzero(np.diff(j_rank, prepend=-1))
    workflow_starts = np.flatnonzero(np.diff(p_of_w, prepend=-1))
    # All credit columns at once: column k of every job is row k of `amounts`.
    amounts, scales, unit = _scaled(
        pa.concat_arrays([_array(rows.column(f"c{i}")) for i in range(len(names))])
    )
    amounts = amounts.reshape(len(names), -1)[:, job_order]
    scales = scales.reshape(len(names), -1)[:, job_order]
    w_sum, w_scale = (
        np.add.reduceat(amounts, job_starts, axis=1),
        np.maximum.reduceat(scales, job_starts, axis=1),
    )
    p_sum = np.add.reduceat(w_sum, workflow_starts, axis=1)
    p_scale = np.maximum.reduceat(w_scale, workflow_starts, axis=1)
    w_credits = _sum_text(w_sum.ravel(), w_scale.ravel(), unit)
    p_credits = _sum_text(p_sum.ravel(), p_scale.ravel(), unit)
    totals = _sum_text(p_sum.sum(axis=1), p_scale.max(axis=1, initial=0), unit).to_pylist()
    # The pieces, keyed (workflow rank, kind) so that one stable sort puts them in document order.
    w_rank = np.arange(workflows.num_rows)
    w_first = np.zeros(len(w_rank), bool)
    w_first[workflow_starts] = True
    w_last = np.append(w_first[1:], True)
    j_first = np.zeros(len(j_rank), bool)
    j_first[job_starts] = True
    pipeline_open = pc.binary_join_element_wise(
        "{",
        pipelines.column("phead"),
        ', "credits": ',
        _credits_object(names, p_credits),
        ', "workflows": [',
        "",
    )
    workflow_open = pc.binary_join_element_wise(
        pc.if_else(pa.array(w_first), FIRST_WORKFLOW, NEXT_WORKFLOW),
        workflows.column("whead"),
        ', "credits": ',
        _credits_object(names, w_credits),
        ', "jobs": [',
        "",
    )
    job_separator = pc.if_else(pa.array(j_first), FIRST_JOB, NEXT_JOB)
    pipeline_close = pa.array([PIPELINE_CLOSE] * pipelines.num_rows, pa.string())
    sources = (pipeline_open, workflow_open, job_separator, rows.column("job"), pipeline_close)
    base = np.cumsum([0, *(len(a) for a in sources)])
    jobs_in_order = np.empty(2 * len(j_rank), np.int64)  # each job's separator, then its text
    jobs_in_order[0::2] = base[2] + np.arange(len(j_rank))
    jobs_in_order[1::2] = base[3] + job_order
    keys = np.concatenate(
        [w_rank[w_first] * 4, w_rank * 4 + 1, np.repeat(j_rank * 4 + 2, 2), w_rank[w_last] * 4 + 3]
    )
    positions = np.concatenate([np.arange(base[0], base[2]), jobs_in_order, np.arange(base[4], base[5])])
    order = positions[np.argsort(keys, kind="stable")]
    # One copy: the pieces are gathered in document order straight from where they are (the job texts from
    # the bucket file).
    chunks = [_array(a) for a in sources[:3]] + rows.column("job").chunks + [sources[4]]
    text = _array(pa.chunked_array(chunks, pa.string()).take(pa.array(order)))
    del rows, chunks, sources
    # Each pipeline's byte range: from its opening piece to the next pipeline's.
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=text.offset * 4)
    opening = np.flatnonzero(order < pipelines.num_rows)
    starts = offsets[opening] - offsets[0]
    ends = np.append(starts[1:], offsets[-1] - offsets[0])
    index = pa.table(
        {
            "created": pipelines.column("p_created"),
            "pid": pipelines.column("pid"),
            "start": pa.array(starts, pa.int64()),
            "end": pa.array(ends, pa.int64()),
        }
    )

    text_path = path.with_suffix(".json")

    def write() -> None:
        path.unlink()  # the bucket's rows: nothing refers to them any more
        with open(text_path, "wb") as fh:
            fh.write(memoryview(text.buffers()[2])[offsets[0] : offsets[-1]])
            with pa.ipc.new_stream(pa.PythonFile(fh, mode="w"), index.schema) as writer:
                for batch in index.to_batches(INDEX_BATCH_ROWS):
                    writer.write_batch(batch)

    return write, _Bucket(
        text_path,
        int(offsets[-1] - offsets[0]),
        pipelines.num_rows,
        workflows.num_rows,
        len(j_rank),
        read,
        totals,
        set(pipelines.column("org").to_pylist()),
    )


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`values` as one array (a chunked array of one chunk is not copied)."""
    import pyarrow as pa

    if not isinstance(values, pa.ChunkedArray):
        return values
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def _from_first_rows(
    rows: pa.Table, rn: Any, firsts: Sequence[tuple[Any, Sequence[str]]], first_rows: FirstRows
) -> list[dict[str, pa.Array]]:
    """For each (positions, columns) of `firsts`: those columns of the rows at those positions (each row a
    pipeline's or a workflow's first). Where step 1 left them null, one call of `first_rows` (one more read of
    the file) renders the missing rows of all of them."""
    import numpy as np
    import pyarrow as pa

    taken = [{column: _array(rows.column(column).take(at)) for column in columns} for at, columns in firsts]
    missing = [
        np.flatnonzero(own[columns[0]].is_null().to_numpy(zero_copy_only=False))
        for own, (_, columns) in zip(taken, firsts, strict=True)
    ]
    wanted = sorted({int(rn[at[i]]) for (at, _), where in zip(firsts, missing, strict=True) for i in where})
    if not wanted:
        return taken
    found = first_rows(wanted)
    for own, (at, columns), where in zip(taken, firsts, missing, strict=True):
        if len(where) == 0:
            continue
        for column in columns:
            values = own[column].to_pylist()
            for i in where:
                values[i] = found[int(rn[at[i]])][column]
            own[column] = pa.array(values, pa.string())
    return taken


def _codes(values: pa.ChunkedArray) -> Any:
    """Each value's code (0, 1, … in order of first appearance), as a numpy array (the chunks of a chunked
    array share one dictionary)."""
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values)
    return np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks])


def _first_rows_of_jobs(rows: pa.Table) -> pa.Table:
    """The bucket's rows without repeated jobs (the first row of each is kept)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    jid = rows.column("jid")
    if len(pc.unique(jid)) == rows.num_rows and not pc.any(pc.is_in(jid, pa.array(["\\N", ""]))).as_py():
        return rows  # every row has its own JOB_ID
    has_id = pc.and_(pc.not_equal(jid, "\\N"), pc.not_equal(jid, ""))
    null = pa.scalar(None, pa.string())
    keys = pa.table(
        {
            "a": pc.if_else(has_id, jid, null),
            "b": pc.if_else(has_id, null, rows.column("wid")),
            "c": pc.if_else(has_id, null, rows.column("jname")),
            "d": pc.if_else(has_id, null, rows.column("run")),
            "rn": rows.column("rn"),
        }
    )
    firsts = keys.group_by(["a", "b", "c", "d"], use_threads=False).aggregate([("rn", "min")])
    if firsts.num_rows == rows.num_rows:
        return rows
    return rows.filter(pc.is_in(rows.column("rn"), firsts.column("rn_min")))


def _scaled(texts: pa.Array) -> tuple[Any, Any, int]:
    """Credits as exact integers in units of 10^-unit (unit: the most digits after the point), their own
    scales, and that unit. NULL counts 0 with scale 0 (a sum starts at 0). int64 when the sums cannot overflow
    it, Python integers otherwise. Credits repeat a lot: each distinct text is read once."""
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(texts)
    distinct = [Decimal(0) if t == "null" else Decimal(t) for t in encoded.dictionary.to_pylist()]
    own = [max(0, -d.as_tuple().exponent) for d in distinct]  # type: ignore[operator]
    unit = max(own, default=0)
    values = [_units(d, unit) for d in distinct]
    codes = encoded.indices.to_numpy()
    scales = np.array(own or [0], dtype=np.int64)[codes]
    if len(texts) * max(map(abs, values), default=0) < 2**62:
        return np.array(values or [0], dtype=np.int64)[codes], scales, unit
    return np.array(values or [0], dtype=object)[codes], scales, unit


def _units(number: Decimal, unit: int) -> int:
    """`number` as an exact integer count of 10^-unit (Decimal's own scaling rounds to 28 digits)."""
    sign, digits, exponent = number.as_tuple()
    value = int("".join(map(str, digits)) or "0") * 10 ** (int(exponent) + unit)
    return -value if sign else value


def _sum_text(sums: Any, scales: Any, unit: int) -> pa.Array:
    """Exact sums (in units of 10^-unit) as text with as many digits after the point as `scales` says. Each
    distinct (sum, scale) is written once: with Arrow's string functions while the sums fit int64 (see
    `_scaled`), else one `_decimal_text` at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if sums.dtype == object or unit > 18 or len(sums) == 0 or int(np.abs(sums).max()) >= 2**56:
        texts = [_decimal_text(int(v), int(g), unit) for v, g in zip(sums, scales, strict=True)]
        return pa.array(texts, pa.string())
    keys, codes = np.unique(sums * 32 + scales, return_inverse=True)  # a scale is at most 18
    values, scales = keys >> 5, keys & 31
    # The digits dropped are zeros (see `_decimal_text`).
    text = pc.cast(pa.array(np.abs(values) // np.power(10, unit - scales)), pa.string())
    for scale in np.unique(scales[scales > 0]).tolist():
        padded = pc.utf8_lpad(text, width=scale + 1, padding="0")
        pointed = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(padded, 0, -scale), pc.utf8_slice_codeunits(padded, -scale), "."
        )
        text = pc.if_else(pa.array(scales == scale), pointed, text)
    text = pc.if_else(pa.array(values < 0), pc.binary_join_element_wise("-", text, ""), text)
    return text.take(pa.array(codes.ravel()))


def _decimal_text(value: int, scale: int, unit: int) -> str:
    """`value` × 10^-unit written with `scale` digits after the point (the digits dropped are zeros), as
    Decimal writes a sum of terms with at most `scale` digits after the point."""
    digits = str(abs(value) // 10 ** (unit - scale)).rjust(scale + 1, "0")
    return ("-" if value < 0 else "") + (f"{digits[:-scale]}.{digits[-scale:]}" if scale else digits)


def _credits_object(names: Sequence[str], sums: pa.Array) -> pa.Array:
    """A `credits` object per row ({"compute": 0.3, …}) from each column's sums one after the other."""
    import pyarrow.compute as pc

    rows = len(sums) // len(names)
    parts: list[Any] = ["{"]
    for index, name in enumerate(names):
        parts += [("" if index == 0 else ", ") + f'"{name}": ', sums.slice(index * rows, rows)]
    return pc.binary_join_element_wise(*parts, "}", "")


def _index(bucket: _Bucket, number: int) -> Iterator[tuple[str, str, int, int, int]]:
    """A bucket's pipelines as (created, pid, bucket number, start, end), read a batch at a time."""
    import pyarrow as pa

    with open(bucket.path, "rb") as fh:
        fh.seek(bucket.text_bytes)
        for batch in pa.ipc.open_stream(pa.PythonFile(fh, mode="r")):
            created, pid, start, end = (batch.column(i).to_pylist() for i in range(4))
            yield from zip(created, pid, [number] * len(pid), start, end, strict=True)


def _write_document(
    out: TextIO, buckets: list[_Bucket], names: Sequence[str], source: str, period: dict[str, str] | None
) -> HierarchyResult:
    """Step 3: head and totals, then every pipeline in order (the buckets' indexes merged by sort key)."""
    with localcontext(Context(prec=MAX_PREC)):  # exact, however many digits
        credits = {
            name: sum((Decimal(b.credits[i]) for b in buckets), Decimal(0)) for i, name in enumerate(names)
        }
    jobs = sum(b.jobs for b in buckets)
    result = HierarchyResult(
        pipelines=sum(b.pipelines for b in buckets),
        workflows=sum(b.workflows for b in buckets),
        jobs=jobs,
        rows=jobs,
        duplicates_dropped=sum(b.rows for b in buckets) - jobs,
        credits=credits,
        organization_ids=sorted(set().union(*(b.organization_ids for b in buckets))),
    )
    head: dict[str, Any] = {"format": FORMAT, "source_csv": source}
    if period:
        head["period"] = period
    out.write("{\n")
    for name, value in head.items():
        out.write(f"  {json.dumps(name)}: {json.dumps(value, ensure_ascii=False)},\n")
    out.write(f'  "organization_ids": {json.dumps(result.organization_ids, ensure_ascii=False)},\n')
    totals = ", ".join(f'"{name}": {format(amount, "f")}' for name, amount in credits.items())
    out.write(
        f'  "totals": {{"pipelines": {result.pipelines}, "workflows": {result.workflows}, '
        f'"jobs": {result.jobs}, "credits": {{{totals}}}}},\n'
    )
    out.write('  "pipelines": [')
    out.flush()
    out_write = out.buffer.write if hasattr(out, "buffer") else (lambda data: out.write(data.decode()))
    first, later = FIRST_PIPELINE.encode(), NEXT_PIPELINE.encode()
    files: list[BinaryIO] = []
    try:
        files = [open(b.path, "rb") for b in buckets]  # noqa: SIM115 (closed below)
        with write_behind(out_write) as write:
            separator, pending, size = first, [], 0
            for _, _, number, start, end in heapq.merge(*(_index(b, n) for n, b in enumerate(buckets))):
                pending += [separator, os.pread(files[number].fileno(), end - start, start)]
                separator, size = later, size + end - start
                if size > WRITE_BUFFER:
                    write(b"".join(pending))
                    pending, size = [], 0
            write(b"".join(pending))
    finally:
        for fh in files:
            fh.close()
    out.write(DOCUMENT_CLOSE)
    return result
