"""Parquet files that carry their own description: a JSON document in the schema metadata under one key.

The GitHub Actions week file, the billing ledger file and the cost table all store this way; one writer and one
reader keep their error messages and checks alike. No Dagster import.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def parquet_bytes(table: pa.Table, compression: str = "zstd") -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=compression)
    return sink.getvalue()


def with_footer(table: pa.Table, key: bytes, info: str) -> pa.Table:
    """`table` with `info` (JSON text) as its only schema metadata, under `key`."""
    return table.replace_schema_metadata({key: info.encode()})


def read_with_footer(
    data: bytes, key: bytes, error: type[Exception], no_footer: str
) -> tuple[pa.Table, dict[str, Any]]:
    """(table, footer document) of a stored file; `error` names what is wrong (`no_footer` when the key is absent)."""
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise error(f"not a readable Parquet file: {exc}") from None
    raw = (table.schema.metadata or {}).get(key)
    if raw is None:
        raise error(no_footer)
    return table, json.loads(raw)


def require_columns(table: pa.Table, schema: pa.Schema, error: type[Exception]) -> None:
    """Refuses a table that lacks any of the schema's columns, naming them."""
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise error(f"the Parquet file lacks the columns {', '.join(missing)}")
