"""Merge export parts (gzip or plain CSV, one header each) into one CSV with a single header.

Columns are matched by name. A part whose header already equals the merged header is copied as raw bytes
(no CSV parsing: the common case and the fast one); any other part is re-ordered row by row, with `\\N` for
columns it lacks. Unknown new columns are kept.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from usage_archive.circleci.columns import (
    KNOWN_COLUMNS,
    NULL,
    UsageExportFormatError,
    output_columns,
    validate_header,
)

COPY_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
csv.field_size_limit(1 << 24)


@dataclass(frozen=True)
class MergeResult:
    columns: list[str]
    rows: int  # data rows written (physical lines for parts copied raw)
    parts: int
    unknown_columns: list[str] = field(default_factory=list)
    duplicates_dropped: int = 0


def is_gzip(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


@contextmanager
def open_part(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """The part's decompressed bytes (gzip is recognised by its magic bytes, not the file name)."""
    with open(path, "rb") as raw:
        if raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as gz:
                yield gz  # type: ignore[misc]
        else:
            raw.seek(0)
            yield raw  # type: ignore[misc]


def read_header(path: str | os.PathLike[str], source: str) -> list[str] | None:
    """The validated header of a part, or None when the part is completely empty."""
    try:
        with open_part(path) as fh:
            line = fh.readline()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UsageExportFormatError(f"{source} is not readable gzip/CSV: {exc}") from None
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageExportFormatError(f"{source} does not start with a UTF-8 CSV header") from None
    return validate_header(next(csv.reader([text])), source)


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
    """Write the parts' rows under one header to `out_path`. Every header is read and validated before
    anything is written. With `dedupe`, a job row already seen (same JOB_ID) is dropped."""
    names = list(names or [f"part {i + 1} of {len(parts)}" for i in range(len(parts))])
    headers = [read_header(p, n) for p, n in zip(parts, names, strict=False)]
    present = [h for h in headers if h is not None]
    if not present:
        raise UsageExportFormatError(
            f"none of the {len(parts)} part(s) has a header row: the export is empty"
        )
    columns = output_columns(present)
    rows = duplicates = 0
    seen: set[tuple[str, ...]] = set()
    index = {c: i for i, c in enumerate(columns)}
    key_at = (index["JOB_ID"], index["WORKFLOW_ID"], index["JOB_NAME"], index.get("JOB_RUN_NUMBER", -1))
    with open(out_path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for path, name, header in zip(parts, names, headers, strict=False):
            if header is None:
                continue
            if header == columns and not dedupe:
                out.flush()
                rows += _copy_raw(path, out)
            else:
                part_rows, part_dupes = _copy_rows(
                    path, name, header, columns, writer, seen if dedupe else None, key_at
                )
                rows += part_rows
                duplicates += part_dupes
            if log:
                log(f"merged {name}")
    unknown = [c for c in columns if c not in KNOWN_COLUMNS]
    return MergeResult(
        columns=columns, rows=rows, parts=len(parts), unknown_columns=unknown, duplicates_dropped=duplicates
    )


def _copy_raw(path: str | os.PathLike[str], out: io.TextIOWrapper) -> int:
    """Append the part's data lines byte for byte; returns the number of lines."""
    lines = 0
    last = b"\n"
    target = out.buffer
    with open_part(path) as fh:
        fh.readline()
        while chunk := fh.read(COPY_CHUNK):
            lines += chunk.count(b"\n")
            target.write(chunk)
            last = chunk[-1:]
    if last != b"\n":
        target.write(b"\n")
        lines += 1
    target.flush()
    return lines


def _copy_rows(
    path: str | os.PathLike[str],
    name: str,
    header: list[str],
    columns: list[str],
    writer: csv._writer,
    seen: set[tuple[str, ...]] | None,
    key_at: tuple[int, int, int, int],
) -> tuple[int, int]:
    position = {c: i for i, c in enumerate(header)}
    picks = [position.get(c, -1) for c in columns]
    width = len(header)
    rows = duplicates = 0
    with open_part(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        reader = csv.reader(text)
        next(reader)
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != width:
                raise UsageExportFormatError(
                    f"{name} line {line_no} has {len(row)} fields, its header has {width}"
                )
            merged = [row[i] if i >= 0 else NULL for i in picks]
            if seen is not None:
                key = job_key(merged, *key_at)
                if key in seen:
                    duplicates += 1
                    continue
                seen.add(key)
            writer.writerow(merged)
            rows += 1
    return rows, duplicates
