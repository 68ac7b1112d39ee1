"""Postgres → Arrow → Parquet, streamed in bounded batches (no Dagster import).

Rows arrive from ADBC's binary COPY reader as Arrow record batches, are converted to exact archival types and
written one row group per batch, so memory stays flat however large the month is:

* numeric(p,s)  → decimal128(p,s) (decimal256 above 38 digits); unconstrained numeric → its exact digits as text
* interval      → struct<months int32, days int32, microseconds int64> (Parquet has no such Arrow type)
* timestamptz   → timestamp[us, UTC]; uuid, json(b) → Parquet UUID / JSON logical types
* anything Parquet cannot hold faithfully (inet, money, ranges, …) → its Postgres text form
Every field carries its Postgres type in the field metadata (`postgres_type`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from usage_archive.archive.store import sha256_file
from usage_archive.export.catalog import Column

CODECS = {"zstd": ".parquet", "gzip": ".parquet.gz"}
# gzip level 6 is ~3x faster than pyarrow's default 9 for ~1% more bytes (measured, see docs/benchmarks.md).
CODEC_LEVELS = {"zstd": None, "gzip": 6}
INTERVAL_TYPE = pa.struct([("months", pa.int32()), ("days", pa.int32()), ("microseconds", pa.int64())])
PG_TYPE_KEY = b"postgres_type"


class ExportTypeError(ValueError):
    """A value cannot be stored exactly in the column's archival type."""


def parquet_suffix(codec: str) -> str:
    try:
        return CODECS[codec]
    except KeyError:
        raise ValueError(f"unknown codec {codec!r}: choose one of {sorted(CODECS)}") from None


def numeric_type(typmod: int) -> pa.DataType:
    """Arrow type for a Postgres numeric with the given typmod (-1 = unconstrained)."""
    if typmod < 4:
        return pa.string()
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if precision <= 38:
        return pa.decimal128(precision, scale)
    if precision <= 76:
        return pa.decimal256(precision, scale)
    return pa.string()


def _interval_to_struct(array: pa.Array) -> pa.Array:
    import numpy as np

    # month_day_nano is 16 bytes per value: int32 months, int32 days, int64 nanoseconds.
    raw = np.frombuffer(
        array.buffers()[1], dtype=[("m", "<i4"), ("d", "<i4"), ("n", "<i8")], count=len(array) + array.offset
    )[array.offset :]
    mask = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
    children = [pa.array(raw["m"]), pa.array(raw["d"]), pa.array(raw["n"] // 1000)]
    return pa.StructArray.from_arrays(
        children, fields=list(INTERVAL_TYPE), mask=pa.array(mask) if mask is not None else None
    )


@dataclass
class ColumnPlan:
    name: str
    target: pa.Field
    convert: Callable[[pa.Array], pa.Array] | None  # None: the ADBC array is already the archival form


def _storage(array: pa.Array) -> pa.Array:
    return (
        array.storage
        if isinstance(array, pa.ExtensionArray) and isinstance(array.type, pa.OpaqueType)
        else array
    )


def _decimal_converter(name: str, target: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    def convert(array: pa.Array) -> pa.Array:
        try:
            return pc.cast(_storage(array), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ExportTypeError(
                f"column {name!r}: a value does not fit {target} exactly (NaN or Infinity in numeric?): {exc}"
            ) from None

    return convert


def plan_columns(source: pa.Schema, columns: list[Column]) -> list[ColumnPlan]:
    """Decide each column's archival Arrow type from the reader's schema and the catalog."""
    by_name = {c.name: c for c in columns}
    plans = []
    for src in source:
        column = by_name.get(src.name)
        pg_type = column.pg_type if column else (src.metadata or {}).get(b"POSTGRESQL:type", b"").decode()
        nullable = not column.not_null if column else True
        meta = {PG_TYPE_KEY: pg_type.encode()}
        convert: Callable[[pa.Array], pa.Array] | None = None
        target_type = src.type
        if isinstance(src.type, pa.OpaqueType):
            src_meta = src.metadata or {}
            if src.type.type_name == "numeric":
                target_type = numeric_type(int(src_meta.get(b"POSTGRESQL:typmod", b"-1")))
                convert = (
                    _decimal_converter(src.name, target_type)
                    if pa.types.is_decimal(target_type)
                    else _storage
                )
            else:
                target_type, convert = src.type.storage_type, _storage
        elif pa.types.is_interval(src.type):
            target_type, convert = INTERVAL_TYPE, _interval_to_struct
        elif pa.types.is_list(src.type) and src.type.value_field.metadata:
            # drop the driver's per-element metadata; the column's postgres_type says it all
            target_type = pa.list_(src.type.value_type)
            convert = lambda a, t=target_type: a.cast(t)  # noqa: E731
        plans.append(
            ColumnPlan(src.name, pa.field(src.name, target_type, nullable=nullable, metadata=meta), convert)
        )
    return plans


def archival_schema(plans: list[ColumnPlan], metadata: dict[str, str] | None = None) -> pa.Schema:
    return pa.schema([p.target for p in plans], metadata=metadata)


def convert_batch(batch: pa.RecordBatch, plans: list[ColumnPlan], schema: pa.Schema) -> pa.RecordBatch:
    arrays = [p.convert(batch.column(i)) if p.convert else batch.column(i) for i, p in enumerate(plans)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def prefetch(reader: pa.RecordBatchReader, depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Read the next batches on a helper thread while this one converts and compresses (ADBC and Parquet both
    release the GIL). At most `depth` batches wait in memory."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def pump() -> None:
        try:
            for batch in reader:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)

    thread = threading.Thread(target=pump, name="adbc-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass
class ExportResult:
    path: Path
    records: int
    bytes: int
    sha256: str
    codec: str
    columns: list[dict[str, Any]] = field(default_factory=list)
    row_groups: int = 0


def write_parquet(
    reader: pa.RecordBatchReader,
    columns: list[Column],
    path: str | Path,
    *,
    codec: str = "zstd",
    metadata: dict[str, str] | None = None,
) -> ExportResult:
    """Stream `reader` into one Parquet file at `path`; returns its row count, size and SHA-256."""
    parquet_suffix(codec)
    path = Path(path)
    plans = plan_columns(reader.schema, columns)
    schema = archival_schema(plans, metadata)
    records = row_groups = 0
    with pq.ParquetWriter(
        path,
        schema,
        compression=codec,
        compression_level=CODEC_LEVELS[codec],
        write_statistics=True,
        store_schema=True,
    ) as writer:
        for batch in prefetch(reader):
            if batch.num_rows == 0:
                continue
            writer.write_batch(convert_batch(batch, plans, schema))
            records += batch.num_rows
            row_groups += 1
    by_name = {c.name: c for c in columns}
    manifest_columns = [
        by_name[p.name].as_manifest()
        if p.name in by_name
        else {"name": p.name, "type": p.target.metadata[PG_TYPE_KEY].decode(), "nullable": True}
        for p in plans
    ]
    return ExportResult(
        path=path,
        records=records,
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
        codec=codec,
        columns=manifest_columns,
        row_groups=row_groups,
    )


def parquet_row_count(path: str | Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows
