"""The merged CircleCI usage CSV as row dicts, for the cost table.

The file is read in its RFC 4180 form, as CircleCI's sample export writes it: every field quoted, a quote inside
a field doubled, `\\N` for NULL (quoted or not), an optional UTF-8 byte-order mark before the header. What cannot
be read unambiguously (a backslash-escaped quote, a row of the wrong width) is refused with the file and line.
Any iterable of row dicts works in its place (the cost table does not care where the rows come from).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import TextIO

from usage_archive.circleci.columns import NULL, UsageExportFormatError

COST_COLUMNS = ("VCS_URL", "PROJECT_NAME", "TOTAL_CREDITS", "JOB_RUN_SECONDS")
# https://github.com/owner/name(.git), git@github.com:owner/name.git, github.com/owner/name
_VCS_PATH = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://[^/]+/|[^@/:]+@[^:/]+:|[^/:]+\.[^/:]+/)?(?P<path>[^?#]+)", re.IGNORECASE
)
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    """The lines with a UTF-8 byte-order mark removed from the first (it would sit before the opening quote)."""
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        return
    yield first.removeprefix("\ufeff")
    yield from iterator


def read_usage_csv(
    lines: TextIO | Iterable[str], source: str = "usage CSV"
) -> Iterator[dict[str, str | None]]:
    """Rows of a merged usage CSV keyed by column name, `\\N` → None. Open files with newline=""."""
    reader = csv.reader(_without_bom(lines), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise UsageExportFormatError(f"{source} is empty: no header row")
        names = [h.strip() for h in header]
        missing = [c for c in ("VCS_URL", "TOTAL_CREDITS") if c not in names]
        if missing:
            raise UsageExportFormatError(
                f"{source} lacks the column(s) {', '.join(missing)} the cost table needs"
            )
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(names):
                raise UsageExportFormatError(
                    f"{source}, line {reader.line_num}: {len(fields)} fields, the header "
                    f"has {len(names)} (a backslash-escaped quote? RFC 4180 doubles quotes)"
                )
            yield {
                name: (None if value == NULL else value) for name, value in zip(names, fields, strict=True)
            }
    except csv.Error as exc:
        raise UsageExportFormatError(
            f"{source}, line {reader.line_num}: not RFC 4180 CSV ({exc}); a quote inside "
            "a field must be doubled"
        ) from None


def repository_from_vcs_url(url: str | None) -> str | None:
    """owner/name from a project's VCS_URL (https, ssh or bare host form), or None when it names none."""
    if not url or url == NULL:
        return None
    match = _VCS_PATH.match(url.strip())
    if not match:
        return None
    parts = [p for p in match["path"].split("/") if p]
    if len(parts) < 2:
        return None
    owner, name = parts[-2], parts[-1].removesuffix(".git")
    candidate = f"{owner}/{name}"
    return candidate if _OWNER_NAME.match(candidate) else None
