"""A usage export CSV as DuckDB reads it, for the merge's check and the hierarchical JSON.

Why DuckDB: its CSV reader is strict and fast, and it renders every value to its JSON text in vectorised SQL,
streaming, in file order, in a few MB; the same in Python costs several times the CPU. (`src` numbers the
rows with a window function, which runs on one thread; the merge's check and the JSON's first step read
`cells`, the same rows unnumbered, on every core, in file order.) SQL renders the forms CircleCI writes (plain numbers,
`True`/`False`, UTC timestamps, text without quotes, backslashes or control characters); every other form goes
through the Python rule in `dialect` (registered as a function, called only for those values), so SQL and
Python cannot disagree. A value that is not of its column's kind makes that function raise, which stops the
query.

`cells` is the file's records in file order, every column as text, an empty field as ''; `src` is the same
with `rn` (1 for the first data record). Reading is strict: an unterminated quote, a character after a closing
quote or a row of the wrong width stops the query (`duckdb.Error`); `locate_problem` then finds the file and
line with `dialect`.
(Blanks between a closing quote and the next comma are the one thing DuckDB's reader skips where the RFC says
the file is wrong.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from usage_archive.circleci import dialect
from usage_archive.circleci.columns import UsageExportFormatError, value_kind

if TYPE_CHECKING:
    import duckdb

# DuckDB's own budget; the process's peak adds Python, the libraries and the output buffers to it.
# Only streaming queries run here (no joins or sorts), so DuckDB needs little; its allocator is asked to give
# memory back early.
MEMORY_LIMIT_MB = 128
# How much of the file DuckDB reads at a time (its default is 32 MB). A query whose rows come out in file
# order (the JSON's first pass) holds the rendered rows of every buffer in flight: 2 MB (measured: with 8 MB
# buffers that pass peaked at 386 MB instead of 280 at 1M rows; with 1 MB ones DuckDB kept buffers it had
# read, up to 40-50 MB more at 3M rows). The merge's check only counts: 8 MB (its scan 30 % faster than with
# 1 MB). A record is at most MAX_RECORD long either way.
READ_BUFFER = 2 << 20
CHECK_BUFFER = 8 << 20
MAX_RECORD = 1 << 20
MAX_DETAIL = 600  # characters of DuckDB's message kept in an error
# Timestamps CircleCI writes (UTC, with or without a zero offset), rendered in SQL; anything else goes to Python.
# The export's own form is matched with GLOB (several times cheaper than a regular expression), its ranges
# checked by DuckDB's cast (which alone would take 24:00 for midnight).
_EXPORT_TIMESTAMP = (
    "[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]"
)
_DATE = "[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]"
_UTC_TIMESTAMP = (
    r"([12][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]))[ T]"
    r"((?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?)(?: ?(?:Z|\+00:?00))?"
)

_ESCAPED = '[\\x00-\\x1f"\\\\]'  # what JSON escapes in a string

# The forms CircleCI writes, per kind, which `plain_sql` checks in one regular expression per row (a subset of
# what the macros below accept: real calendar dates only, no 29 February, which takes the full rules).
_MONTH_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
_PLAIN_DATE = rf"[12][0-9]{{3}}-{_MONTH_DAY}"
_PLAIN_FORMS = {
    "timestamp": rf"\\N|{_PLAIN_DATE} (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{{3}}|{_PLAIN_DATE}|",
    "number": rf"\\N|{dialect.PLAIN_NUMBER}|",
    "credit": rf"\\N|{dialect.PLAIN_NUMBER}|",
    "boolean": r"\\N|True|False|true|false|",
}

_MACROS = f"""
CREATE MACRO json_text(v) AS CASE WHEN v = '\\N' THEN 'null'
    WHEN regexp_matches(v, '{_ESCAPED}') THEN py_string_json(v) ELSE concat('"', v, '"') END;
CREATE MACRO json_plain_text(v, escaped) AS CASE WHEN v = '\\N' THEN 'null'
    WHEN escaped THEN json_text(v) ELSE concat('"', v, '"') END;
CREATE MACRO json_number(v) AS CASE WHEN v = '\\N' OR v = '' THEN 'null'
    WHEN regexp_full_match(v, '{dialect.PLAIN_NUMBER}') THEN v ELSE py_number_json(v) END;
CREATE MACRO json_checked_number(v, plain) AS CASE WHEN NOT plain THEN json_number(v)
    WHEN v = '\\N' OR v = '' THEN 'null' ELSE v END;
CREATE MACRO json_boolean(v) AS CASE v WHEN 'True' THEN 'true' WHEN 'False' THEN 'false'
    WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN '\\N' THEN 'null' WHEN '' THEN 'null'
    ELSE py_boolean_json(v) END;
CREATE MACRO json_timestamp(v) AS CASE WHEN v = '\\N' OR v = '' THEN 'null'
    WHEN v GLOB '{_EXPORT_TIMESTAMP}' AND substr(v, 12, 2) < '24' AND TRY_CAST(v AS TIMESTAMP) IS NOT NULL
        THEN concat('"', left(v, 10), 'T', right(v, 12), 'Z"')
    WHEN v GLOB '{_DATE}' AND TRY_CAST(v AS DATE) IS NOT NULL THEN concat('"', v, '"')
    WHEN regexp_full_match(v, '{_UTC_TIMESTAMP}') AND TRY_CAST(left(v, 10) AS DATE) IS NOT NULL
        THEN regexp_replace(v, '^{_UTC_TIMESTAMP}$', '"\\1T\\2Z"')
    ELSE py_timestamp_json(v) END;
CREATE MACRO json_checked_timestamp(v, plain) AS CASE WHEN NOT plain THEN json_timestamp(v)
    WHEN v = '\\N' OR v = '' THEN 'null' WHEN length(v) = 10 THEN concat('"', v, '"')
    ELSE concat('"', left(v, 10), 'T', right(v, 12), 'Z"') END;
"""
_PYTHON_RULES = {
    "py_string_json": dialect.string_json,
    "py_number_json": dialect.number_json,
    "py_boolean_json": dialect.boolean_json,
    "py_timestamp_json": dialect.timestamp_json,
}


class InvalidValue(ValueError):
    """Raised inside a query by a rule that finds a value not of its kind: the query stops (the file and line
    are then found with `locate_problem`)."""


def _strict(rule: Callable[[str], str | None]) -> Callable[[str], str]:
    def render(value: str) -> str:
        text = rule(value)
        if text is None:
            raise InvalidValue(value)
        return text

    return render


RENDER = {
    "text": "json_text",
    "number": "json_number",
    "credit": "json_number",
    "boolean": "json_boolean",
    "timestamp": "json_timestamp",
}


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def render(column: str, header: Sequence[str], escaped: str | None = None, plain: str | None = None) -> str:
    """SQL for the column's JSON text; a column the file lacks is NULL (`\\N`). `escaped` and `plain` name
    per-row flags that spare a check per value: for a text column, `escaped` (see `escaped_sql`) false means
    no text value in the row needs escaping; for a number or a timestamp, `plain` (see `plain_sql`) true means
    every typed value in the row is in a form CircleCI writes, so it is rendered without checking it again."""
    value = ident(column) if column in header else literal("\\N")
    kind = value_kind(column)
    if escaped and kind == "text":
        return f"json_plain_text({value}, {escaped})"
    if plain and kind in ("number", "credit"):
        return f"json_checked_number({value}, {plain})"
    if plain and kind == "timestamp":
        return f"json_checked_timestamp({value}, {plain})"
    return f"{RENDER[kind]}({value})"


def escaped_sql(columns: Sequence[str], header: Sequence[str]) -> str:
    """SQL for: some of these text columns has a value JSON must escape (one regular expression per row)."""
    present = [ident(c) for c in columns if c in header and value_kind(c) == "text"]
    return f"regexp_matches(concat({', '.join(present)}), '{_ESCAPED}')" if present else "false"


def plain_sql(columns: Sequence[str], header: Sequence[str]) -> str:
    """SQL for: every typed value among these columns is in a form CircleCI writes (`_PLAIN_FORMS`), checked
    with one regular expression per row."""
    typed = [c for c in columns if c in header and value_kind(c) != "text"]
    if not typed:
        return "true"
    pattern = "\\x1f".join(f"(?:{_PLAIN_FORMS[value_kind(c)]})" for c in typed)
    values = ", ".join(ident(c) for c in typed)
    return f"regexp_full_match(concat_ws(chr(31), {values}), {literal(pattern)})"


@contextmanager
def connect(memory_limit_mb: int = MEMORY_LIMIT_MB) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection (spilling, if ever, to a private temporary directory) with the rendering macros.
    `preserve_insertion_order` keeps a query's rows in file order."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="circleci-duckdb-") as spill:
        con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": f"{memory_limit_mb}MB",
                "temp_directory": spill,
                "preserve_insertion_order": True,
                "allocator_flush_threshold": "16MB",
                "allocator_bulk_deallocation_flush_threshold": "16MB",
                "allocator_background_threads": True,
            },
        )
        con.execute("SET enable_progress_bar = false")  # it draws on stderr when that is a terminal
        try:
            for name, rule in _PYTHON_RULES.items():
                con.create_function(
                    name, _strict(rule), ["VARCHAR"], "VARCHAR", null_handling="special", side_effects=False
                )
            con.execute(_MACROS)
            yield con
        finally:
            con.close()


def create_source(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    header: Sequence[str],
    buffer_size: int = READ_BUFFER,
) -> None:
    """The views over the CSV at `path` (plain, not compressed), whose validated header is `header`: `cells`
    and `src` (the same, numbered); `records` is the raw read they share (an empty unquoted field NULL).
    DuckDB reads `buffer_size` bytes at a time (see READ_BUFFER)."""
    columns = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header) + "}"
    values = ", ".join(f"coalesce({ident(c)}, '') AS {ident(c)}" for c in header)
    con.execute(
        f"CREATE OR REPLACE VIEW records AS SELECT * FROM read_csv("
        f"{literal(os.fspath(path))}, columns={columns}, header=true, delim=',', quote='\"', escape='\"', "
        f"auto_detect=false, strict_mode=true, allow_quoted_nulls=false, compression='none', "
        f"buffer_size={buffer_size}, max_line_size={MAX_RECORD})"
    )
    con.execute(f"CREATE OR REPLACE VIEW cells AS SELECT {values} FROM records")
    con.execute("CREATE OR REPLACE VIEW src AS SELECT row_number() OVER () AS rn, * FROM cells")


def check_source(
    con: duckdb.DuckDBPyConnection,
    header: Sequence[str],
    locate: Callable[[Exception | None], UsageExportFormatError],
) -> int:
    """Read every record of `src` and render every typed value; returns the number of records. At the first
    problem raises what `locate` finds (the file and line, see `locate_problem`)."""
    import duckdb

    typed = [c for c in header if value_kind(c) != "text"]
    rendered = [f"length({RENDER[value_kind(c)]}({ident(c)}))" for c in typed]
    if typed:
        # Only a record with a typed value in another form than CircleCI's has its values rendered (which
        # raises for a value not of its kind).
        rendered = [
            f"max(CASE WHEN {plain_sql(header, header)} THEN 0 ELSE greatest({', '.join(rendered)}) END)"
        ]
    try:
        row = con.execute(f"SELECT {', '.join(['count(*)', *rendered])} FROM cells").fetchone()
    except duckdb.Error as exc:
        raise locate(exc) from None
    assert row is not None
    return int(row[0])


def locate_problem(
    lines: Iterable[bytes], source: str, error: Exception | None
) -> UsageExportFormatError | None:
    """What is wrong with a file, by name and line, found by reading it again with `dialect` (strict Python
    reading and the value rules); None when that reading finds nothing."""
    try:
        dialect.check_export(lines, source)
    except UsageExportFormatError as exc:
        return exc
    return None


def duckdb_problem(source: str, error: Exception | None) -> UsageExportFormatError:
    """DuckDB's own message, for what only DuckDB refuses (e.g. CRLF and LF line ends mixed in one file, a
    record longer than MAX_RECORD). DuckDB quotes the record: a long one is cut in the middle."""
    detail = " ".join(str(error).split("\n")[:3]) if error else "a value DuckDB reads differently"
    if len(detail) > MAX_DETAIL:
        detail = f"{detail[: MAX_DETAIL // 2]} … {detail[-MAX_DETAIL // 2 :]}"
    return UsageExportFormatError(f"{source} cannot be read as a CircleCI usage export: {detail}")
