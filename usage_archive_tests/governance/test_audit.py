"""Independent verify: re-reads manifests and objects from the moto bucket and catches what is wrong."""

from __future__ import annotations

import json

from usage_archive.governance.audit import archived_periods, summary_table, verify_all, verify_period
from usage_archive_tests.governance.archive_fixtures import PERIOD


def test_a_sound_month_verifies(archived) -> None:
    result = verify_period(archived.store, PERIOD)
    assert result.ok and result.status == "OK", result.problems
    assert {f.table for f in result.files} == {"credits", "accounts_snapshot"}
    credits = next(f for f in result.files if f.table == "credits")
    assert credits.parquet_records == 5 and credits.sha256 == credits.expected_sha256


def test_verify_catches_a_corrupted_object(archived) -> None:
    key = next(k for k in archived.file_keys() if "credits" in k)
    data = bytearray(archived.store.get_bytes(key))
    data[len(data) // 2] ^= 0xFF  # one flipped bit in the middle, same size
    archived.store.put_bytes(key, bytes(data))

    result = verify_period(archived.store, PERIOD)
    assert not result.ok and result.status == "MISMATCH"
    assert any("SHA-256" in p and key in p for p in result.problems), result.problems


def test_verify_catches_wrong_row_counts_missing_and_unlisted_objects(archived) -> None:
    manifest = json.loads(archived.store.get_bytes(archived.manifest_key()))
    manifest["files"][0]["records"] += 1
    archived.store.put_bytes(archived.manifest_key(), json.dumps(manifest).encode())
    archived.store.put_bytes("billing-archive/2025/01/stray-2025-01.parquet", b"not listed")
    archived.store.delete(next(k for k in archived.file_keys() if "accounts" in k))

    problems = verify_period(archived.store, PERIOD).problems
    assert any("rows, the manifest says" in p for p in problems), problems
    assert any(
        "stray-2025-01.parquet is in the month's folder but not in the manifest" in p for p in problems
    )
    assert any("missing from the archive" in p for p in problems)


def test_glacier_objects_are_reported_not_failed(archived) -> None:
    for key in archived.file_keys():
        archived.move_to(key, "DEEP_ARCHIVE")
    result = verify_period(archived.store, PERIOD)
    assert result.ok, result.problems
    assert len(result.archived) == 2 and result.status == "OK (2 in Glacier, restore to read)"
    assert all(f.storage_class == "DEEP_ARCHIVE" and f.sha256 is None for f in result.files)

    archived.move_to(archived.manifest_key(), "DEEP_ARCHIVE")
    result = verify_period(archived.store, PERIOD)
    assert result.ok and result.status.startswith("IN DEEP_ARCHIVE")


def test_verify_all_walks_every_month_and_summarises(archived) -> None:
    assert archived_periods(archived.store) == ["2025-01", "2025-02"]
    archived.store.delete(archived.manifest_key("2025-02"))  # a month whose run died before the manifest
    results = verify_all(archived.store)
    assert [(r.period, r.status) for r in results] == [("2025-01", "OK"), ("2025-02", "NO MANIFEST")]
    table = summary_table(results)
    lines = table.splitlines()
    assert lines[0].split() == [
        "period",
        "files",
        "records",
        "bytes",
        "verified",
        "glacier",
        "problems",
        "status",
    ]
    assert lines[2].startswith("2025-01") and "NO MANIFEST" in lines[3]
    assert lines[-1].startswith("total") and "1 ok, 1 failing" in lines[-1]
