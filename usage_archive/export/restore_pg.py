"""Load an archived Parquet file back into a PostgreSQL table (no Dagster import).

The way back from the archive: `COPY … FROM STDIN` in text format, each Arrow value written in its Postgres
text form, so decimals, time zones, arrays, bytea, jsonb and NULLs come back exactly. The target table must exist
with the archived columns (for example `CREATE TABLE restored (LIKE credits)`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import pyarrow.parquet as pq

from usage_archive.export.catalog import quote_ident, quote_qualified

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    text = _scalar_text(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict) and set(value) == {"months", "days", "microseconds"}:
        return f"{value['months']} mons {value['days']} days {value['microseconds']} microseconds"
    if isinstance(value, list):
        return "{" + ",".join(_array_element(v) for v in value) + "}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_copy_text(value: Any) -> str:
    """One field of a COPY text row."""
    if value is None:
        return "\\N"
    return _scalar_text(value).translate(_COPY_ESCAPES)


def load_parquet_into_postgres(url: str, path: str | Path, table: str, *, batch_rows: int = 10_000) -> int:
    """Append every row of the Parquet file at `path` to `table`; returns the number of rows loaded."""
    parquet = pq.ParquetFile(path)
    columns = ", ".join(quote_ident(name) for name in parquet.schema_arrow.names)
    loaded = 0
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            buffer = io.StringIO()
            for row in batch.to_pylist():
                buffer.write("\t".join(to_copy_text(v) for v in row.values()) + "\n")
            buffer.seek(0)
            cur.copy_expert(f"COPY {quote_qualified(table)} ({columns}) FROM STDIN", buffer)
            loaded += batch.num_rows
    return loaded
