"""Merge export parts (gzip or plain CSV, one header each) into one CSV with a single header, and check that the
result reads exactly before anyone stores it.

Columns are matched by name. The merged file keeps the export's own bytes (it is the archive of record): the
first part's header line (without a byte-order mark), then each part's records byte for byte when its header is
the merged header and its lines end the same way. Any other part is re-written record by record (reordered,
`\\N` for columns it lacks; unknown new columns are kept). Then the whole merged file is read as the JSON step
reads it (`export_sql`): strictly, every typed value checked. A part that cannot be read unambiguously is
refused with its name and line, and the merged file is removed.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

from isal import igzip, igzip_lib

from usage_archive.circleci import dialect, export_sql
from usage_archive.circleci.columns import (
    KNOWN_COLUMNS,
    NULL,
    UsageExportFormatError,
    output_columns,
    validate_header,
)
from usage_archive.circleci.write_behind import write_behind

COPY_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = dialect.BOM.encode()
# What a damaged gzip part raises while it is read: cut short, a bad CRC or header, a corrupt deflate block.
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, igzip_lib.IsalError)


@dataclass(frozen=True)
class MergeResult:
    columns: list[str]
    rows: int  # data records in the merged file
    parts: int
    unknown_columns: list[str] = field(default_factory=list)
    duplicates_dropped: int = 0


class PartHead(NamedTuple):
    columns: list[str]  # validated
    line: bytes  # the header line as written, without a byte-order mark
    ending: str  # how the part ends its lines


@contextmanager
def open_part(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """The part's decompressed bytes (gzip is recognised by its magic bytes, not the file name). ISA-L's
    inflate (python-isal) reads gzip about three times as fast as the standard library's zlib, with the same
    checks (CRC, length)."""
    with open(path, "rb") as raw:
        if raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            with igzip.IGzipFile(fileobj=raw) as gz:
                yield gz  # type: ignore[misc]
        else:
            raw.seek(0)
            yield raw  # type: ignore[misc]


def read_head(path: str | os.PathLike[str], source: str) -> PartHead | None:
    """The part's validated header, or None when the part is completely empty."""
    try:
        with open_part(path) as fh:
            line = fh.readline()
    except (OSError, *GZIP_ERRORS) as exc:
        raise UsageExportFormatError(f"{source} is not readable gzip/CSV: {exc}") from None
    line = line.removeprefix(UTF8_BOM)
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageExportFormatError(f"{source} does not start with a UTF-8 CSV header") from None
    return PartHead(validate_header(next(csv.reader([text])), source), line, dialect.line_ending(line))


def read_header(path: str | os.PathLike[str], source: str) -> list[str] | None:
    """The validated header of a part, or None when the part is completely empty."""
    head = read_head(path, source)
    return head.columns if head else None


def job_key(
    row: Sequence[str], job_id: int, workflow_id: int, job_name: int, run_number: int
) -> tuple[str, ...]:
    """What identifies one job row: JOB_ID, or (workflow, job name, run number) when JOB_ID is NULL."""
    value = row[job_id]
    if value and value != NULL:
        return (value,)
    return (row[workflow_id], row[job_name], row[run_number] if run_number >= 0 else "")


def merge_parts(
    parts: Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    *,
    dedupe: bool = False,
    names: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> MergeResult:
    """Write the parts' rows under one header to `out_path` and check the result reads exactly. Every header
    is read and validated before anything is written. With `dedupe`, a job row already seen (same JOB_ID) is
    dropped. Raises UsageExportFormatError (naming the part and line) and leaves no `out_path` behind."""
    names = list(names or [f"part {i + 1} of {len(parts)}" for i in range(len(parts))])
    for path, name in zip(parts, names, strict=False):
        if _same_file(path, out_path):
            raise UsageExportFormatError(
                f"the merged file {os.fspath(out_path)} is {name} itself: merging would "
                "overwrite it; write the merged file elsewhere"
            )
    heads = [read_head(p, n) for p, n in zip(parts, names, strict=False)]
    present = [h for h in heads if h is not None]
    if not present:
        raise UsageExportFormatError(
            f"none of the {len(parts)} part(s) has a header row: the export is empty"
        )
    columns = output_columns([h.columns for h in present])
    ending = present[0].ending
    duplicates = 0
    seen: set[tuple[str, ...]] = set()
    index = {c: i for i, c in enumerate(columns)}
    key_at = (index["JOB_ID"], index["WORKFLOW_ID"], index["JOB_NAME"], index.get("JOB_RUN_NUMBER", -1))
    try:
        with open(out_path, "wb") as out:
            first = present[0]
            if first.columns == columns:
                out.write(first.line.rstrip(b"\r\n") + ending.encode())
            else:
                _write_row(out, columns, ending)
            for path, name, head in zip(parts, names, heads, strict=False):
                if head is None:
                    continue
                try:
                    if head.columns == columns and head.ending == ending and not dedupe:
                        _copy_raw(path, out, ending)
                    else:
                        duplicates += _copy_records(
                            path, name, head, columns, ending, out, seen if dedupe else None, key_at
                        )
                except GZIP_ERRORS as exc:
                    raise UsageExportFormatError(f"{name} is not readable gzip: {exc}") from None
                if log:
                    log(f"merged {name}")
        rows = check_merged(out_path, columns, parts, names)
    except BaseException:
        if os.path.exists(out_path):
            os.unlink(out_path)
        raise
    unknown = [c for c in columns if c not in KNOWN_COLUMNS]
    return MergeResult(
        columns=columns, rows=rows, parts=len(parts), unknown_columns=unknown, duplicates_dropped=duplicates
    )


def check_merged(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    parts: Sequence[str | os.PathLike[str]],
    names: Sequence[str],
) -> int:
    """Read the merged file as the JSON step will; returns its number of records. A problem is reported in
    the part it comes from, by line."""

    def locate(error: Exception | None) -> UsageExportFormatError:
        for part, name in zip(parts, names, strict=False):
            with open_part(part) as fh:
                found = export_sql.locate_problem(fh, name, error)
            if found:
                return found
        return export_sql.duckdb_problem(os.path.basename(os.fspath(path)), error)

    with export_sql.connect() as con:
        export_sql.create_source(con, path, columns, export_sql.CHECK_BUFFER)
        return export_sql.check_source(con, columns, locate)


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # `b` does not exist yet
        return os.path.realpath(a) == os.path.realpath(b)


def _write_row(out: BinaryIO, row: Sequence[str], ending: str) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator=ending).writerow(row)
    out.write(text.getvalue().encode())


def _copy_raw(path: str | os.PathLike[str], out: BinaryIO, ending: str) -> None:
    """Append the part's data lines byte for byte. Chunks are written on a second thread while the next one
    is decompressed (both release the GIL), a few MB apart at most."""
    last = b"\n"
    with open_part(path) as fh, write_behind(out.write) as write:
        fh.readline()
        while chunk := fh.read(COPY_CHUNK):
            write(chunk)
            last = chunk[-1:]
    if last != b"\n":
        out.write(ending.encode())


def _copy_records(
    path: str | os.PathLike[str],
    name: str,
    head: PartHead,
    columns: list[str],
    ending: str,
    out: BinaryIO,
    seen: set[tuple[str, ...]] | None,
    key_at: tuple[int, int, int, int],
) -> int:
    """Append the part's records (each as written when it fits the merged file, else re-written); returns
    how many were dropped as already seen."""
    position = {c: i for i, c in enumerate(head.columns)}
    picks = [position.get(c, -1) for c in columns]
    as_written = head.columns == columns
    duplicates = 0
    with open_part(path) as fh:
        reader = dialect.records(fh, name)
        next(reader)
        for record in dialect.records_of_width(reader, len(head.columns), name):
            merged = record.fields if as_written else [record.fields[i] if i >= 0 else NULL for i in picks]
            if seen is not None:
                key = job_key(merged, *key_at)
                if key in seen:
                    duplicates += 1
                    continue
                seen.add(key)
            if (
                as_written
                and record.raw.endswith(ending)
                and (ending == "\r\n" or not record.raw.endswith("\r\n"))
            ):
                out.write(record.raw.encode())
            else:
                _write_row(out, merged, ending)
    return duplicates
