"""What the database says a table looks like: columns, Postgres types, nullability, primary key.

The Arrow schema of an archive is derived from this at run time, so a column added by a migration is archived
without a code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# Types whose ADBC/Arrow form is exact and that Parquet can store (numeric and interval are converted later).
NATIVE_TYPES = frozenset(
    {
        "bool",
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "numeric",
        "text",
        "varchar",
        "bpchar",
        "name",
        "uuid",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "interval",
        "json",
        "jsonb",
        "bytea",
    }
)
NATIVE_ARRAY_ELEMENTS = frozenset(
    {
        "bool",
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "text",
        "varchar",
        "bpchar",
        "date",
        "timestamp",
        "timestamptz",
    }
)


class TableMissingError(LookupError):
    """A configured table does not exist in the billing database."""


class ColumnMissingError(LookupError):
    """A column the archive needs (the month's time column, say) does not exist."""


def quote_ident(name: str) -> str:
    """Quote a SQL identifier; only plain identifiers are accepted, so nothing can be injected."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return f'"{name}"'


def quote_qualified(table: str) -> str:
    return ".".join(quote_ident(part) for part in table.split("."))


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # format_type(): 'numeric(38,18)', 'timestamp with time zone', 'text[]', 'mood'
    not_null: bool
    typname: str  # pg_type.typname: 'numeric', '_text', 'mood'
    typtype: str  # b base, e enum, d domain, c composite, r range
    element_typname: str | None = None  # for arrays
    element_typtype: str | None = None

    @property
    def is_array(self) -> bool:
        return self.element_typname is not None

    def select_expression(self) -> str:
        """The expression that reads this column exactly: as is where Arrow/Parquet hold it, as text otherwise."""
        ident = quote_ident(self.name)
        if self.is_array:
            if self.element_typname in NATIVE_ARRAY_ELEMENTS or self.element_typtype == "e":
                return ident
            return f"{ident}::text[] AS {ident}"
        if self.typname in NATIVE_TYPES or self.typtype == "e":
            return ident
        return f"{ident}::text AS {ident}"

    def as_manifest(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.pg_type, "nullable": not self.not_null}


_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, t.typname, t.typtype::text,
       et.typname, et.typtype::text
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
WHERE a.attrelid = to_regclass('{table}') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_PRIMARY_KEY_SQL = """
SELECT a.attname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass('{table}') AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


def missing_tables(query: Any, tables: list[str]) -> list[str]:
    """The tables of `tables` that the database does not have (query runs SQL and returns rows)."""
    for table in tables:
        quote_qualified(table)
    values = ", ".join(f"('{t}')" for t in tables)
    rows = query(f"SELECT name FROM (VALUES {values}) AS v(name) WHERE to_regclass(name) IS NULL")
    return sorted(r[0] for r in rows)


def describe_table(query: Any, table: str) -> list[Column]:
    quote_qualified(table)
    rows = query(_COLUMNS_SQL.format(table=table))
    if not rows:
        raise TableMissingError(f"table {table!r} does not exist in the billing database")
    return [
        Column(
            name=r[0],
            pg_type=r[1],
            not_null=bool(r[2]),
            typname=r[3],
            typtype=r[4],
            element_typname=r[5],
            element_typtype=r[6],
        )
        for r in rows
    ]


def primary_key(query: Any, table: str) -> list[str]:
    quote_qualified(table)
    return [r[0] for r in query(_PRIMARY_KEY_SQL.format(table=table))]
