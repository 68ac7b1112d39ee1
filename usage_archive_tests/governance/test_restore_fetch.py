"""Restore from DEEP_ARCHIVE end to end against the moto server, then fetch and query with DuckDB.

moto completes a restore the moment it is requested; S3 takes hours. The in-progress phase is what S3's HEAD
reports meanwhile (`x-amz-restore: ongoing-request="true"`); `RestoringS3` answers HEAD that way for the objects
still "restoring" and is the real store for everything else.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from usage_archive.archive.store import ArchiveStoreError, LocalArchiveStore
from usage_archive.governance.audit import verify_period
from usage_archive.governance.fetch import FetchError, fetch_month
from usage_archive.governance.restore import (
    IN_PROGRESS,
    RestoreError,
    pending_records,
    poll_restores,
    read_record,
    request_restores,
)
from usage_archive_tests.governance.archive_fixtures import PERIOD, RestoringS3


@pytest.fixture
def deep_archived(archived):
    """January's Parquet files moved to DEEP_ARCHIVE by "lifecycle"; the small manifest stays STANDARD."""
    for key in archived.file_keys():
        archived.move_to(key, "DEEP_ARCHIVE")
    return archived


def test_deep_archive_objects_cannot_be_read_before_a_restore(deep_archived, tmp_path: Path) -> None:
    key = deep_archived.file_keys()[0]
    with pytest.raises(ArchiveStoreError, match=r"InvalidObjectState .*usage-archive restore"):
        deep_archived.store.get_bytes(key)
    with pytest.raises(
        FetchError, match=r"2 of 2 files of 2025-01 are not readable yet: .*DEEP_ARCHIVE, not restored"
    ):
        fetch_month(deep_archived.store, PERIOD, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_expedited_is_refused_for_deep_archive_and_requests_nothing(deep_archived) -> None:
    with pytest.raises(RestoreError, match="Expedited restores are not available for DEEP_ARCHIVE"):
        request_restores(deep_archived.store, PERIOD, tier="Expedited")
    assert read_record(deep_archived.store, PERIOD) is None
    assert all(deep_archived.store.head(k).restore is None for k in deep_archived.file_keys())
    with pytest.raises(RestoreError, match="unknown restore tier 'Fast'"):
        request_restores(deep_archived.store, PERIOD, tier="Fast")
    with pytest.raises(RestoreError, match="--days 0"):
        request_restores(deep_archived.store, PERIOD, days=0)


def test_restore_a_deep_archive_month_end_to_end(deep_archived, tmp_path: Path) -> None:
    store = deep_archived.store
    record = request_restores(store, PERIOD, tier="Bulk", days=3)
    assert sorted(record["requested"]) == sorted(deep_archived.file_keys())  # not the STANDARD manifest
    assert record["status"] == "pending" and record["tier"] == "Bulk"
    assert (
        json.loads(store.get_bytes(".restores/billing-archive-2025-01.json"))["requested"]
        == record["requested"]
    )
    assert [r["period"] for r in pending_records(store)] == [PERIOD]

    # S3 is still restoring one of the two files
    slow = RestoringS3(store.client, store.bucket, store.prefix)
    slow.restoring = frozenset(deep_archived.file_keys()[:1])
    polled = poll_restores(slow, PERIOD)
    assert polled["status"] == "pending"
    assert [o["state"] for o in polled["objects"] if o["key"] in slow.restoring] == [IN_PROGRESS]
    with pytest.raises(FetchError, match="restore in progress"):
        fetch_month(slow, PERIOD, tmp_path / "out")

    # S3 has finished
    done = poll_restores(store, PERIOD)
    assert done["status"] == "complete" and done["completed_at"]
    assert pending_records(store) == []
    assert verify_period(store, PERIOD).status == "OK"  # restored copies are read and checked in full

    fetched = fetch_month(store, PERIOD, tmp_path / "out")
    assert sorted(p.name for p in fetched.files) == [
        "accounts-snapshot-2025-01.parquet",
        "credits-2025-01.parquet",
    ]
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no staging left
    with duckdb.connect() as con:  # the README's query, on the fetched folder
        total, count = con.execute(
            f"SELECT sum(amount), count(*) FROM '{tmp_path / 'out'}/credits-*.parquet'"
        ).fetchone()
    assert (total, count) == (Decimal("18.7500"), 5)  # 1.25 * (1+2+3+4+5), exact decimal


def test_fetch_keeps_nothing_when_an_object_is_corrupted(archived, tmp_path: Path) -> None:
    key = next(k for k in archived.file_keys() if "credits" in k)
    data = bytearray(archived.store.get_bytes(key))
    data[-20] ^= 0x01
    archived.store.put_bytes(key, bytes(data))
    with pytest.raises(FetchError, match=r"does not match its manifest, nothing was kept: .*SHA-256"):
        fetch_month(archived.store, PERIOD, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_restore_needs_an_s3_archive(tmp_path: Path) -> None:
    with pytest.raises(RestoreError, match="is a local archive: its files are always readable"):
        request_restores(LocalArchiveStore(tmp_path), PERIOD)


def test_nothing_to_restore_for_a_month_not_archived(archived) -> None:
    with pytest.raises(RestoreError, match="nothing is archived for 2024-06"):
        request_restores(archived.store, "2024-06")
