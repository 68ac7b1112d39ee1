"""Restore a month of the billing archive from Glacier tiers (no Dagster import).

`request_restores` asks S3 to restore every object of the month that sits in GLACIER or DEEP_ARCHIVE and has
no restore copy, and records what it asked for as JSON under `.restores/` in the archive. `poll_restores` re-reads
each object's `x-amz-restore` header (HEAD) and updates the record; the Dagster restore sensor calls it, so the
operator learns when the month can be fetched. Restore times (AWS): DEEP_ARCHIVE Standard ≤ 12 h, Bulk ≤ 48 h,
no Expedited; GLACIER Expedited 1–5 min, Standard 3–5 h, Bulk 5–12 h.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from usage_archive.archive.store import ARCHIVED_CLASSES, ArchiveStore, ArchiveStoreError, StoredObject
from usage_archive.export.month import parse_period, period_folder

RESTORE_RECORDS_PREFIX = ".restores"
TIERS = ("Standard", "Bulk", "Expedited")
DEFAULT_TIER = "Standard"
DEFAULT_DAYS = 7  # how long the restored copy stays readable; the seed's restore command used 7
# Object states, from the storage class and the x-amz-restore header.
NOT_NEEDED, ARCHIVED, IN_PROGRESS, RESTORED = "not-needed", "archived", "in-progress", "restored"
READABLE = (NOT_NEEDED, RESTORED)


class RestoreError(ValueError):
    """A restore that cannot be requested (bad tier, local archive, nothing archived …)."""


@dataclass(frozen=True)
class ObjectState:
    key: str
    storage_class: str
    state: str
    restore_header: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "storage_class": self.storage_class,
            "state": self.state,
            "restore": self.restore_header,
        }


def object_state(obj: StoredObject) -> str:
    """not-needed (readable as is), archived (needs a restore request), in-progress or restored."""
    if obj.storage_class not in ARCHIVED_CLASSES:
        return NOT_NEEDED
    header = obj.restore or ""
    if 'ongoing-request="true"' in header:
        return IN_PROGRESS
    if 'ongoing-request="false"' in header:
        return RESTORED
    return ARCHIVED


def record_key(period: date) -> str:
    return f"{RESTORE_RECORDS_PREFIX}/{period_folder(period).replace('/', '-')}.json"


def _s3(store: ArchiveStore) -> tuple[Any, str]:
    client, bucket = getattr(store, "client", None), getattr(store, "bucket", None)
    if client is None or bucket is None:
        raise RestoreError(
            f"{store.uri()} is a local archive: its files are always readable, nothing to restore"
        )
    return client, bucket


def validate_request(tier: str, days: int) -> None:
    if tier not in TIERS:
        raise RestoreError(f"unknown restore tier {tier!r}: choose Standard (≤12 h) or Bulk (≤48 h)")
    if not 1 <= days <= 30:
        raise RestoreError(
            f"--days {days}: keep the restored copy between 1 and 30 days (it is billed per day)"
        )


def month_states(store: ArchiveStore, period: date) -> list[ObjectState]:
    """Every object of the month (manifest included) with its restore state, from a HEAD each."""
    listed = list(store.list(period_folder(period) + "/"))
    states = []
    for item in listed:
        head = store.head(item.key)
        if head is None:  # deleted between list and head
            continue
        states.append(ObjectState(item.key, head.storage_class, object_state(head), head.restore))
    return states


def request_restores(
    store: ArchiveStore,
    period: str | date,
    *,
    tier: str = DEFAULT_TIER,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Request a restore of every archived object of the month and record the request. Checks everything
    before the first request, so a refused tier requests nothing."""
    month = parse_period(period)
    validate_request(tier, days)
    client, bucket = _s3(store)
    states = month_states(store, month)
    if not states:
        raise RestoreError(f"nothing is archived for {month:%Y-%m} in {store.uri()}")
    deep = [s.key for s in states if s.state == ARCHIVED and s.storage_class == "DEEP_ARCHIVE"]
    if tier == "Expedited" and deep:
        raise RestoreError(
            f"Expedited restores are not available for DEEP_ARCHIVE ({len(deep)} objects of "
            f"{month:%Y-%m}, e.g. {deep[0]}): use Standard (≤12 h) or Bulk (≤48 h)"
        )
    from botocore.exceptions import ClientError

    requested = []
    for state in states:
        if state.state != ARCHIVED:
            continue
        try:
            client.restore_object(
                Bucket=bucket,
                Key=store.object_key(state.key),
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code != "RestoreAlreadyInProgress":
                raise ArchiveStoreError(
                    f"S3 restore request failed for {store.uri(state.key)}: {code}"
                ) from None
        requested.append(state.key)
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    record = {
        "period": f"{month:%Y-%m}",
        "archive": store.uri(),
        "requested_at": moment.isoformat().replace("+00:00", "Z"),
        "tier": tier,
        "days": days,
        "requested": requested,
        "objects": [{**s.as_dict(), "state": IN_PROGRESS if s.key in requested else s.state} for s in states],
        "status": "complete" if not requested and all(s.state in READABLE for s in states) else "pending",
        "completed_at": None,
    }
    store.put_bytes(record_key(month), json.dumps(record, indent=2).encode(), content_type="application/json")
    return record


def read_record(store: ArchiveStore, period: str | date) -> dict[str, Any] | None:
    key = record_key(parse_period(period))
    if not store.exists(key):
        return None
    return json.loads(store.get_bytes(key))


def pending_records(store: ArchiveStore) -> list[dict[str, Any]]:
    """Restore records still waiting for S3, oldest month first."""
    records = []
    for item in store.list(RESTORE_RECORDS_PREFIX + "/"):
        if item.key.endswith(".json"):
            record = json.loads(store.get_bytes(item.key))
            if record.get("status") != "complete":
                records.append(record)
    return sorted(records, key=lambda r: r["period"])


def poll_restores(store: ArchiveStore, period: str | date, *, now: datetime | None = None) -> dict[str, Any]:
    """Re-read each object's restore state; mark the record complete (and store it) once all are readable."""
    month = parse_period(period)
    record = read_record(store, month)
    if record is None:
        raise RestoreError(
            f"no restore was requested for {month:%Y-%m} (usage-archive restore --period {month:%Y-%m})"
        )
    states = {s.key: s for s in month_states(store, month)}
    objects = []
    for entry in record["objects"]:
        current = states.get(entry["key"])
        objects.append(current.as_dict() if current else {**entry, "state": "missing"})
    done = all(o["state"] in READABLE for o in objects)
    changed = objects != record["objects"] or (done and record["status"] != "complete")
    record["objects"] = objects
    if done and record["status"] != "complete":
        record["status"] = "complete"
        record["completed_at"] = (
            (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        )
    if changed:
        store.put_bytes(
            record_key(month), json.dumps(record, indent=2).encode(), content_type="application/json"
        )
    return record


def summarise(record: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for entry in record["objects"]:
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    parts = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    return f"{record['period']}: {record['status']} ({parts}; {record['tier']} tier, requested {record['requested_at']})"
