"""One consistent, read-only view of the billing database for everything archived from one month.

All tables of a month are read inside a single `REPEATABLE READ READ ONLY` transaction, so the manifest describes
one instant of the database; the snapshot id and the transaction's timestamp are recorded in the manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse


class BillingDatabaseNotConfigured(RuntimeError):
    """BILLING_DATABASE_URL is missing."""


class BillingDatabaseError(RuntimeError):
    """The billing database could not be reached or refused a query (the message holds no password)."""


_PASSWORD_IN_URL = re.compile(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]*:)([^@\s]*)(@)")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove passwords from URLs in a message, and any given secret strings."""
    text = _PASSWORD_IN_URL.sub(r"\1***\3", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def describe_url(url: str) -> str:
    """host:port/database of a postgresql:// URL, for messages (never the user's password)."""
    parsed = urlparse(url)
    return f"{parsed.hostname or 'localhost'}:{parsed.port or 5432}{parsed.path or ''}"


def _secrets_of(url: str) -> tuple[str, ...]:
    password = urlparse(url).password
    return (password,) if password else ()


@dataclass(frozen=True)
class SnapshotInfo:
    isolation: str
    read_only: bool
    taken_at: str  # the transaction's start, as the database reports it (UTC)
    pg_snapshot: str  # pg_current_snapshot(): xmin:xmax:xip_list
    server_version: str
    database: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SnapshotSession:
    """An open read-only transaction on the billing database; use `cursor` for every read of the month."""

    def __init__(self, connection: Any, url: str) -> None:
        self.connection = connection
        self.cursor = connection.cursor()
        self._secrets = _secrets_of(url)
        self.info = self._begin()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            self.cursor.execute(sql)
            return self.cursor.fetchall()
        except Exception as exc:
            raise BillingDatabaseError(redact(f"query failed: {exc}", self._secrets)) from None

    def _begin(self) -> SnapshotInfo:
        self.cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # Month bounds are UTC instants; `timestamp without time zone` columns are read as UTC too.
        self.cursor.execute("SET LOCAL TIME ZONE 'UTC'")
        self.cursor.execute("SET LOCAL statement_timeout = 0")
        row = self.query(
            "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'), "
            "to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
            "pg_current_snapshot()::text, current_setting('server_version'), current_database()"
        )[0]
        return SnapshotInfo(
            isolation=row[0],
            read_only=row[1] == "on",
            taken_at=row[2],
            pg_snapshot=row[3],
            server_version=row[4],
            database=row[5],
        )

    def close(self) -> None:
        try:
            self.cursor.execute("ROLLBACK")  # read-only: nothing to commit
        finally:
            self.cursor.close()
            self.connection.close()


def connect(url: str, *, autocommit: bool = True) -> Any:
    """An ADBC connection to the billing database with errors that name the server but not the password."""
    import adbc_driver_postgresql.dbapi as adbc

    if not url:
        raise BillingDatabaseNotConfigured("BILLING_DATABASE_URL is not set")
    if not url.startswith(("postgresql://", "postgres://")):
        raise BillingDatabaseNotConfigured(
            "BILLING_DATABASE_URL must be a postgresql://user@host:port/database URL"
        )
    try:
        return adbc.connect(url, autocommit=autocommit)
    except Exception as exc:
        raise BillingDatabaseError(
            redact(f"cannot connect to the billing database at {describe_url(url)}: {exc}", _secrets_of(url))
        ) from None


@contextmanager
def open_snapshot(url: str) -> Iterator[SnapshotSession]:
    connection = connect(url)
    try:
        session = SnapshotSession(connection, url)
    except BaseException:
        connection.close()
        raise
    try:
        yield session
    finally:
        session.close()
