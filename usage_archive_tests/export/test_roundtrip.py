"""Archived Parquet, loaded back into Postgres, equals the source exactly (EXCEPT both ways), hostile values included."""

from __future__ import annotations

import decimal

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usage_archive.archive.store import LocalArchiveStore
from usage_archive.export.month import TableExport, archive_month
from usage_archive.export.parquet_export import ExportTypeError
from usage_archive.export.restore_pg import load_parquet_into_postgres

HOSTILE_SCHEMA = """
CREATE TYPE hostile_mood AS ENUM ('calm', 'ångry', 'with space');
CREATE TABLE hostile (
    id          bigint PRIMARY KEY,
    n38         numeric(38, 18),
    n_free      numeric,
    n2          numeric(10, 2),
    n60         numeric(60, 10),
    ts          timestamptz,
    ts_local    timestamp,
    d           date,
    t           time,
    iv          interval,
    doc         jsonb,
    mood        hostile_mood,
    labels      text[],
    counts      integer[],
    blob        bytea,
    flag        boolean,
    small       smallint,
    big         bigint,
    ratio       double precision,
    ip          inet,
    note        text,
    code        char(3),
    ref         uuid,
    created_at  timestamptz NOT NULL
);
"""

# Inserted under a non-UTC session time zone: the month edges below are UTC instants written in LA local time.
HOSTILE_ROWS = r"""
SET TIME ZONE 'America/Los_Angeles';
INSERT INTO hostile VALUES
 (1, '99999999999999999999.999999999999999999', '1234567890123456789012345678901234567890.0123456789012345678901',
  '-99999999.99', '12345678901234567890123456789012345678901234567890.0123456789',
  '2026-01-15 12:00:00.000001+05:30', '2026-01-15 12:00:00', '2026-01-31', '23:59:59.999999',
  '1 year 2 mons -3 days 04:05:06.000007',
  '{"名前": "値", "emoji": "🎉", "nested": [1, null, "x\ny", {"q": "\"quoted\""}], "n": 1.000000000000000000001}',
  'ångry', ARRAY['a,b', 'c"d', 'e\f', NULL, '{x}', ''], ARRAY[1, NULL, -3], '\x00ff5c0a09'::bytea, true,
  -32768, 9223372036854775807, 'NaN', '192.168.0.1/24', E'tab\there\nnewline\\backslash ☃', 'ab ',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2025-12-31 16:00:00'),
 (2, '-99999999999999999999.999999999999999999', '-0.000000000000000000000000000000000000000001',
  '0.01', '-0.0000000001', '1970-01-01 00:00:00+00', '0001-01-01 00:00:00', '0001-01-01', '00:00:00',
  '-178000000 years', '[]', 'with space', ARRAY[]::text[], ARRAY[]::integer[], ''::bytea, false,
  0, -9223372036854775808, '-Infinity', '::1', '', NULL, NULL, '2026-01-31 15:59:59.999999'),
 (3, '0.000000000000000001', '0', NULL, NULL, '9999-12-31 23:59:59.999999+00', NULL, NULL, NULL,
  NULL, 'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1.5e300, NULL, NULL, NULL, NULL,
  '2026-01-10 00:00:00'),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, '2026-01-20 00:00:00'),
 -- just outside the month on both sides: must not be archived
 (5, 1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, '2025-12-31 15:59:59.999999'),
 (6, 1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, '2026-01-31 16:00:00');
"""
MONTH_FILTER = "created_at >= '2026-01-01T00:00:00Z' AND created_at < '2026-02-01T00:00:00Z'"
SPEC = TableExport("hostile", "hostile", "hostile")


@pytest.fixture
def hostile_db(fresh_database: str) -> str:
    with psycopg2.connect(fresh_database) as conn, conn.cursor() as cur:
        cur.execute(HOSTILE_SCHEMA)
        cur.execute(HOSTILE_ROWS)
    return fresh_database


def _query(url: str, sql: str) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall() if cur.description else []


@pytest.mark.parametrize("codec", ["zstd", "gzip"])
def test_round_trip_is_exact(hostile_db: str, tmp_path, codec: str) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    month = archive_month(store, hostile_db, [SPEC], "2026-01", codec=codec)
    [archived] = month.files
    assert archived.result.records == 4
    assert archived.key.endswith("hostile-2026-01.parquet" + (".gz" if codec == "gzip" else ""))

    local = tmp_path / "back.parquet"
    store.download(archived.key, local)
    _query(hostile_db, "CREATE TABLE restored (LIKE hostile)")
    assert load_parquet_into_postgres(hostile_db, local, "restored") == 4

    source = f"SELECT * FROM hostile WHERE {MONTH_FILTER}"
    assert _query(hostile_db, f"SELECT count(*) FROM (({source}) EXCEPT (SELECT * FROM restored)) x") == [
        (0,)
    ]
    assert _query(hostile_db, f"SELECT count(*) FROM ((SELECT * FROM restored) EXCEPT ({source})) x") == [
        (0,)
    ]
    assert _query(hostile_db, "SELECT count(*) FROM restored") == [(4,)]
    # the comparison itself can fail: one digit off in the 18th decimal place is seen
    _query(hostile_db, "UPDATE restored SET n38 = n38 - 0.000000000000000001 WHERE id = 1")
    assert _query(hostile_db, f"SELECT count(*) FROM (({source}) EXCEPT (SELECT * FROM restored)) x") == [
        (1,)
    ]


def test_archival_types_are_exact(hostile_db: str, tmp_path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    month = archive_month(store, hostile_db, [SPEC], "2026-01")
    table = pq.read_table(
        month.files[0].result.path if month.files[0].result.path.exists() else store.uri(month.files[0].key)
    )
    schema = table.schema
    assert schema.field("n38").type == pa.decimal128(38, 18)
    assert schema.field("n60").type == pa.decimal256(60, 10)
    assert schema.field("n_free").type == pa.string()  # unconstrained numeric: exact digits, never float
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert schema.field("ts_local").type == pa.timestamp("us")
    assert schema.field("iv").type == pa.struct(
        [("months", pa.int32()), ("days", pa.int32()), ("microseconds", pa.int64())]
    )
    assert schema.field("created_at").nullable is False
    assert schema.field("n38").metadata[b"postgres_type"] == b"numeric(38,18)"
    assert schema.field("mood").metadata[b"postgres_type"] == b"hostile_mood"
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[1]["n38"] == decimal.Decimal("99999999999999999999.999999999999999999")
    assert rows[1]["n_free"] == "1234567890123456789012345678901234567890.0123456789012345678901"
    assert rows[4]["n38"] is None and rows[4]["doc"] is None and rows[4]["labels"] is None
    assert str(rows[2]["created_at"]) == "2026-01-31 23:59:59.999999+00:00"
    assert str(rows[1]["created_at"]) == "2026-01-01 00:00:00+00:00"
    assert sorted(rows) == [1, 2, 3, 4]


def test_empty_month_gives_full_schema_and_zero_rows(hostile_db: str, tmp_path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    month = archive_month(store, hostile_db, [SPEC], "2024-03")
    local = tmp_path / "empty.parquet"
    store.download(month.files[0].key, local)
    parquet = pq.ParquetFile(local)
    assert parquet.metadata.num_rows == 0
    assert parquet.schema_arrow.names == [c["name"] for c in month.manifest["files"][0]["columns"]]
    assert parquet.schema_arrow.field("n38").type == pa.decimal128(38, 18)
    assert month.manifest["files"][0]["records"] == 0


def test_numeric_nan_in_a_decimal_column_is_a_clear_error(hostile_db: str, tmp_path) -> None:
    _query(hostile_db, "UPDATE hostile SET n2 = 'NaN' WHERE id = 3")
    store = LocalArchiveStore(tmp_path / "archive")
    with pytest.raises(ExportTypeError, match="column 'n2'"):
        archive_month(store, hostile_db, [SPEC], "2026-01")
    assert list(store.list()) == []
