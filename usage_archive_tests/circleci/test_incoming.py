"""Importing exports dropped into incoming/: CircleCI's dialect as a spreadsheet tool re-saves it is archived
with the export's own records; a file that cannot be read exactly is refused by line and stores nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from usage_archive.archive.layout import CIRCLECI_INCOMING_PREFIX, CircleCILayout
from usage_archive.archive.store import LocalArchiveStore
from usage_archive.circleci.incoming import NotAUsageExport, import_export
from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive.circleci.weekly import build_week_json
from usage_archive.periods import Week

WEEK = Week.parse("2026-11-16")
LAYOUT = CircleCILayout(("org-a",))


def dropped(tmp_path: Path, store: LocalArchiveStore, name: str, data: bytes) -> str:
    key = f"{CIRCLECI_INCOMING_PREFIX}/{name}"
    store.put_bytes(key, data)
    return key


def test_a_resaved_export_with_a_byte_order_mark_and_crlf_is_imported_as_written(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    export = write_export(
        tmp_path / "e.csv",
        sample_rows(50, org_id="org-a", weeks=[WEEK.monday]),
        compress=False,
        line_end="\r\n",
        byte_order_mark=True,
    )
    key = dropped(tmp_path, store, "from-excel.csv", export.read_bytes())
    result = import_export(store, key, LAYOUT)
    [week] = result.weeks
    stored = store.get_bytes(week.csv_key)
    assert stored == export.read_bytes()[3:]  # the records as CircleCI wrote them, without the mark
    assert week.rows_in_file == 50
    built = build_week_json(store, week.csv_key, LAYOUT.json_key("org-a", WEEK))
    document = json.loads(store.get_bytes(built.key))
    assert document["totals"]["jobs"] == 50
    # Importing the same file again adds nothing.
    again = import_export(store, dropped(tmp_path, store, "again.csv", export.read_bytes()), LAYOUT)
    assert store.get_bytes(again.weeks[0].csv_key) == stored


def test_a_backslash_escaped_export_is_refused_by_line_and_nothing_is_stored(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    rows = list(sample_rows(30, org_id="org-a", weeks=[WEEK.monday]))
    rows[4][9] = 'fix/say "hi", there'
    text = write_export(tmp_path / "e.csv", rows, compress=False).read_text()
    key = dropped(tmp_path, store, "escaped.csv", text.replace('""hi""', '\\"hi\\"').encode())
    with pytest.raises(NotAUsageExport, match=r"escaped.csv line 6: .*escaped with a backslash"):
        import_export(store, key, LAYOUT)
    assert [o.key for o in store.list("circleci-usage-data/")] == [key]  # left in place, nothing archived


def test_a_bad_value_in_one_week_stores_no_week_at_all(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path / "archive")
    rows = [
        *sample_rows(20, org_id="org-a", weeks=[WEEK.monday]),
        *sample_rows(20, org_id="org-a", weeks=[date(2026, 11, 23)]),
    ]
    rows[-1][40] = "n/a"  # DLC_CREDITS of the second week's last job
    key = dropped(
        tmp_path, store, "two-weeks.csv", write_export(tmp_path / "e.csv", rows, compress=False).read_bytes()
    )
    with pytest.raises(NotAUsageExport, match=r"DLC_CREDITS is not a number: 'n/a'"):
        import_export(store, key, LAYOUT)
    assert [o.key for o in store.list("circleci-usage-data/")] == [key]
