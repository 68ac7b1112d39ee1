"""How CircleCI writes a usage export, and how each value is written into the hierarchical JSON.

The dialect (RFC 4180, as in CircleCI's own sample export): every field double-quoted, a quote inside a field
doubled (`""`), backslashes literal, `\\N` (quoted or not) for NULL, `True` / `False`, CRLF or LF line ends, and
possibly a UTF-8 byte-order mark before the (quoted) header. A file whose rows cannot be read unambiguously is
refused with its name and line — in particular one written with backslash-escaped quotes (`\\"`), which CircleCI's
exports do not produce and which would otherwise be read as different values.

The value rules here are the definition; `export_sql` renders the common forms in SQL and hands every other
form to these functions, so both always agree. Each rule returns the value's JSON text, or None when the value
is not of its kind.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from usage_archive.circleci.columns import NULL, UsageExportFormatError, validate_header, value_kind

BOM = "\ufeff"
PLAIN_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"  # written into the JSON as is
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
TIMESTAMP = (
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?"
    r" ?(Z|z|UTC|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)
_DATE = re.compile(DATE)
_TIMESTAMP = re.compile(TIMESTAMP)
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')
_TRUE = frozenset({"true", "t", "1", "yes", "y"})
_FALSE = frozenset({"false", "f", "0", "no", "n"})
UTC_ZONES = frozenset({None, "Z", "z", "UTC"})
csv.field_size_limit(1 << 24)


def string_json(value: str) -> str:
    """A text value as a JSON string; `\\N` is null."""
    if value == NULL:
        return "null"
    if _NEEDS_ESCAPE.search(value):
        return json.dumps(value, ensure_ascii=False)
    return f'"{value}"'


def number_json(value: str) -> str | None:
    """A number with its exact digits: a plain number as written, any other form Decimal accepts in plain
    notation (`1E+2` → `100`); empty or `\\N` is null."""
    if value == NULL or value == "":
        return "null"
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return format(number, "f") if number.is_finite() else None


def boolean_json(value: str) -> str | None:
    """`True` / `False` (any case, also t/f, 1/0, yes/no); empty or `\\N` is null."""
    if value == NULL or value == "":
        return "null"
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return "true"
    if lowered in _FALSE:
        return "false"
    return None


def timestamp_json(value: str) -> str | None:
    """A date stays a date (`"2025-08-10"`); a timestamp becomes RFC 3339 in UTC with its fraction as written
    (`2025-08-10 09:27:16.535 +0200` → `"2025-08-10T07:27:16.535Z"`); without an offset it is UTC already.
    Empty or `\\N` is null."""
    if value == NULL or value == "":
        return "null"
    if _DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            return None
        return f'"{value}"'
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}")
        if zone not in UTC_ZONES:
            digits = zone[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:] or 0)
            if hours > 23 or minutes > 59:
                return None
            offset = timedelta(hours=hours, minutes=minutes)
            moment = moment - offset if zone[0] == "+" else moment + offset
    except (ValueError, OverflowError):
        return None
    return f'"{moment.isoformat(timespec="seconds")}{fraction or ""}Z"'


RULES = {"timestamp": timestamp_json, "number": number_json, "credit": number_json, "boolean": boolean_json}
EXPECTED = {
    "timestamp": "a date or a timestamp (YYYY-MM-DD, YYYY-MM-DD hh:mm:ss[.fff][ +hh:mm])",
    "number": "a number",
    "credit": "a number",
    "boolean": "True or False",
}


def value_problem(source: str, line: int, column: str, kind: str, value: str) -> str:
    return f"{source} line {line}: {column} is not {EXPECTED[kind]}: {value!r}"


class Record(NamedTuple):
    line: int  # the physical line the record starts on (the header is line 1)
    fields: list[str]
    raw: str  # the record's text exactly as in the file, line end included


def _explain(error: str, raw: str) -> str:
    if "expected after" in error:
        reason = "a quoted field is followed by something other than a comma or the end of the line"
    elif "unexpected end of data" in error:
        reason = "a quoted field is never closed"
    else:
        reason = error
    return reason + backslash_hint(raw)


def backslash_hint(raw: str) -> str:
    if '\\"' in raw:
        return (
            ' — its quotes look escaped with a backslash (\\"); CircleCI exports double them (""), and a '
            "file written the other way cannot be read unambiguously: export it again or convert it"
        )
    return ""


def records(lines: Iterable[bytes], source: str) -> Iterator[Record]:
    """The file's records, read strictly, with their raw text; the first one is the header (a byte-order mark
    before it is dropped). Raises UsageExportFormatError naming `source` and the line for anything that cannot
    be read unambiguously."""
    raw: list[str] = []
    line_no = 0

    def text_lines() -> Iterator[str]:
        nonlocal line_no
        for line in lines:
            line_no += 1
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise UsageExportFormatError(f"{source} line {line_no} is not UTF-8 text") from None
            if line_no == 1:
                text = text.removeprefix(BOM)
            raw.append(text)
            yield text

    reader = csv.reader(text_lines(), strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UsageExportFormatError(
                f"{source} line {start}: {_explain(str(exc), ''.join(raw))}"
            ) from None
        text = "".join(raw)
        raw.clear()
        yield Record(start, fields, text)
        start = line_no + 1


def check_export(lines: Iterable[bytes], source: str) -> int:
    """Read a whole export as the JSON step reads it: strictly, every typed value checked by its rule. Raises
    UsageExportFormatError at the first problem (file and line); returns the number of data records."""
    reader = records(lines, source)
    first = next(reader, None)
    if first is None:
        raise UsageExportFormatError(f"{source} is empty (no header row)")
    header = validate_header(first.fields, source)
    typed = [(i, c, value_kind(c)) for i, c in enumerate(header) if value_kind(c) != "text"]
    count = 0
    for record in records_of_width(reader, len(header), source):
        count += 1
        for index, column, kind in typed:
            value = record.fields[index]
            if RULES[kind](value) is None:
                raise UsageExportFormatError(value_problem(source, record.line, column, kind, value))
    return count


def records_of_width(reader: Iterator[Record], width: int, source: str) -> Iterator[Record]:
    """The data records (blank lines skipped); one of another width than the header is an error."""
    for record in reader:
        if not record.fields:
            continue
        if len(record.fields) != width:
            raise UsageExportFormatError(
                f"{source} line {record.line} has {len(record.fields)} fields, the "
                f"header has {width}{backslash_hint(record.raw)}"
            )
        yield record


def line_ending(header_line: bytes) -> str:
    """The line end a file uses, from its first line."""
    return "\r\n" if header_line.endswith(b"\r\n") else "\n"
