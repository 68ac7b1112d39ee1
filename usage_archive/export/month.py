"""Archive one month of the billing ledger: export every table from one snapshot, store the files, write the
manifest last (no Dagster import; the Dagster assets and the CLI call `archive_month`)."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from usage_archive.archive.store import ArchiveStore, ObjectNotFound, StoredObject
from usage_archive.export.catalog import (
    ColumnMissingError,
    TableMissingError,
    describe_table,
    missing_tables,
    primary_key,
    quote_ident,
    quote_qualified,
)
from usage_archive.export.manifest import MANIFEST_NAME, build_manifest, format_manifest, parse_manifest
from usage_archive.export.parquet_export import ExportResult, parquet_suffix, write_parquet
from usage_archive.export.snapshot import SnapshotInfo, SnapshotSession, open_snapshot

BILLING_PREFIX = "billing-archive"


class PeriodError(ValueError):
    """The month asked for cannot be archived (malformed, or not over yet)."""


@dataclass(frozen=True)
class TableExport:
    """One file of a month's archive."""

    table: str  # the table in Postgres
    archive_name: str  # the name in the manifest ('credits', 'accounts_snapshot')
    file_stem: str  # the object name before the period ('credits', 'accounts-snapshot')
    time_column: str | None = "created_at"  # None: the whole table (a snapshot)

    @property
    def is_snapshot(self) -> bool:
        return self.time_column is None


@dataclass
class ArchivedFile:
    spec: TableExport
    key: str
    result: ExportResult
    stored: StoredObject | None = None


@dataclass
class MonthArchive:
    period: str
    manifest: dict[str, Any]
    manifest_key: str
    files: list[ArchivedFile]
    snapshot: SnapshotInfo
    removed_keys: list[str]


def parse_period(value: str | date) -> date:
    """'2026-01', '2026-01-01' or a date → the first day of that month."""
    if isinstance(value, date):
        return value.replace(day=1)
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            parsed = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if fmt == "%Y-%m-%d" and parsed.day != 1:
            raise PeriodError(f"monthly partition keys are the first of a month (YYYY-MM-01), not {text!r}")
        return parsed.replace(day=1)
    raise PeriodError(f"{value!r} is not a month: use YYYY-MM or YYYY-MM-01")


def month_bounds(period: date) -> tuple[datetime, datetime]:
    start = datetime(period.year, period.month, 1, tzinfo=timezone.utc)
    end = datetime(period.year + (period.month == 12), period.month % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def require_closed(period: date, now: datetime | None = None) -> None:
    now = now or datetime.now(timezone.utc)
    start, end = month_bounds(period)
    if start > now:
        raise PeriodError(f"{period:%Y-%m} is in the future: only months that have ended can be archived")
    if end > now:
        raise PeriodError(
            f"{period:%Y-%m} has not ended yet (it ends {end:%Y-%m-%d} 00:00 UTC): archive it after that"
        )


def period_folder(period: date) -> str:
    return f"{BILLING_PREFIX}/{period:%Y}/{period:%m}"


def object_key(spec: TableExport, period: date, codec: str) -> str:
    return f"{period_folder(period)}/{spec.file_stem}-{period:%Y-%m}{parquet_suffix(codec)}"


def manifest_key(period: date) -> str:
    return f"{period_folder(period)}/{MANIFEST_NAME}"


def month_filter_sql(time_column: str, period: date) -> str:
    """`column` within the month as a half-open UTC interval; the export and the drift check share it."""
    start, end = month_bounds(period)
    column = quote_ident(time_column)
    return f"{column} >= '{start.isoformat()}'::timestamptz AND {column} < '{end.isoformat()}'::timestamptz"


def select_sql(spec: TableExport, columns: Sequence[Any], order_by: Sequence[str], period: date) -> str:
    select_list = ", ".join(c.select_expression() for c in columns)
    sql = f"SELECT {select_list} FROM {quote_qualified(spec.table)}"
    if spec.time_column is not None:
        sql += f" WHERE {month_filter_sql(spec.time_column, period)}"
    if order_by:
        sql += " ORDER BY " + ", ".join(quote_ident(c) for c in order_by)
    return sql


def schema_fingerprint(tables: dict[str, list[dict[str, Any]]]) -> str:
    """A short digest of every archived table's columns and types: changes exactly when the schema does."""
    canonical = json.dumps(tables, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def export_tables(
    session: SnapshotSession,
    specs: Sequence[TableExport],
    period: date,
    out_dir: Path,
    codec: str,
    log: Callable[[str], None] = lambda _m: None,
) -> list[ArchivedFile]:
    """Export every spec inside the session's snapshot into `out_dir`. Checks every table and time column
    before reading a single row, so a bad configuration fails before anything is written."""
    absent = missing_tables(session.query, [s.table for s in specs])
    if absent:
        raise TableMissingError(
            f"the billing database has no table {', '.join(repr(t) for t in absent)} "
            f"(database {session.info.database!r}): check BILLING_DATABASE_URL or the table list"
        )
    plans = []
    for spec in specs:
        columns = describe_table(session.query, spec.table)
        names = [c.name for c in columns]
        if spec.time_column is not None and spec.time_column not in names:
            raise ColumnMissingError(
                f"table {spec.table!r} has no column {spec.time_column!r} to select the month by"
            )
        pk = primary_key(session.query, spec.table)
        order_by = ([spec.time_column] if spec.time_column else []) + [c for c in pk if c != spec.time_column]
        plans.append((spec, columns, order_by))
    files = []
    for spec, columns, order_by in plans:
        key = object_key(spec, period, codec)
        session.cursor.execute(select_sql(spec, columns, order_by, period))
        reader = session.cursor.fetch_record_batch()
        result = write_parquet(
            reader,
            columns,
            out_dir / key.rsplit("/", 1)[1],
            codec=codec,
            metadata={"usage_archive.table": spec.archive_name, "usage_archive.period": f"{period:%Y-%m}"},
        )
        log(f"exported {spec.table}: {result.records} rows, {result.bytes} bytes")
        files.append(ArchivedFile(spec=spec, key=key, result=result))
    return files


def read_manifest(store: ArchiveStore, period: date) -> dict[str, Any] | None:
    try:
        return parse_manifest(store.get_bytes(manifest_key(period)))
    except ObjectNotFound:
        return None


def archive_month(
    store: ArchiveStore,
    database_url: str,
    specs: Sequence[TableExport],
    period: str | date,
    *,
    codec: str = "zstd",
    now: datetime | None = None,
    run_id: str | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> MonthArchive:
    """Export, store, then write the manifest. Order matters:

    1. every file is exported to a local temporary folder inside one read-only snapshot (a database problem
       stops here, with nothing stored);
    2. an existing manifest for the month is removed, so the month reads as incomplete while it is replaced;
    3. the files are uploaded, each with its SHA-256;
    4. the manifest is written last, listing exactly what was stored;
    5. files of the previous manifest that the new one does not list (another codec) are removed.
    A failure between 2 and 4 leaves no manifest, never a manifest that disagrees with the files.
    """
    month = parse_period(period)
    require_closed(month, now)
    parquet_suffix(codec)
    start, end = month_bounds(month)
    with tempfile.TemporaryDirectory(prefix=f"billing-{month:%Y-%m}-") as tmp:
        with open_snapshot(database_url) as session:
            files = export_tables(session, specs, month, Path(tmp), codec, log)
            snapshot = session.info
        previous = read_manifest(store, month)
        m_key = manifest_key(month)
        if previous is not None:
            store.delete(m_key)
            log(f"removed the previous manifest of {month:%Y-%m} while the month is replaced")
        for archived in files:
            archived.stored = store.put_file(
                archived.key, archived.result.path, sha256=archived.result.sha256
            )
            log(f"stored {store.uri(archived.key)}")
        manifest = build_manifest(
            period=month,
            snapshot=snapshot,
            codec=codec,
            run_id=run_id,
            files=[
                {
                    "table": f.spec.archive_name,
                    "records": f.result.records,
                    "s3_key": store.object_key(f.key),
                    "path": f.key,
                    "sha256": f.result.sha256,
                    "bytes": f.result.bytes,
                    "codec": codec,
                    "columns": f.result.columns,
                    "source_table": f.spec.table,
                    "selection": (
                        "whole table"
                        if f.spec.is_snapshot
                        else f"{f.spec.time_column} in [{start.isoformat()}, {end.isoformat()})"
                    ),
                }
                for f in files
            ],
            schema_version=schema_fingerprint({f.spec.table: f.result.columns for f in files}),
        )
        store.put_bytes(m_key, format_manifest(manifest).encode(), content_type="application/json")
        log(f"wrote {store.uri(m_key)}")
    new_keys = {f.key for f in files}
    removed = []
    for entry in (previous or {}).get("files", []):
        old = entry.get("path") or entry.get("s3_key")
        if old and old not in new_keys and old.startswith(period_folder(month) + "/"):
            store.delete(old)
            removed.append(old)
    return MonthArchive(
        period=f"{month:%Y-%m}",
        manifest=manifest,
        manifest_key=m_key,
        files=files,
        snapshot=snapshot,
        removed_keys=removed,
    )
