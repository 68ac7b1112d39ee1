"""The billing assets, checks and schedule, run in-process with materialize() against real Postgres."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import dagster as dg
import psycopg2
import pytest

from usage_archive.definitions import defs
from usage_archive.defs.billing.assets import build_billing_archive
from usage_archive.defs.billing.checks import billing_archive_integrity, billing_source_drift
from usage_archive.defs.billing.tables import BILLING_TABLES, BillingTableSpec, ForbiddenTableError
from usage_archive.export.month import TableExport
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.billing_db import BillingDatabaseResource

PARTITION = "2026-09-01"
ASSETS = [build_billing_archive(), billing_archive_integrity, billing_source_drift]


def _resources(archive: str, db: str | None) -> dict[str, object]:
    return {"archive_store": ArchiveStoreResource(url=archive), "billing_db": BillingDatabaseResource(url=db)}


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def _materialize(archive: str, db: str | None, instance: dg.DagsterInstance | None = None, **kwargs):
    return dg.materialize(
        ASSETS,
        resources=_resources(archive, db),
        partition_key=PARTITION,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        **kwargs,
    )


def test_month_materializes_and_every_check_passes(billing_db: str, tmp_path) -> None:
    result = _materialize(str(tmp_path), billing_db)
    assert result.success
    materialized = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    assert set(materialized) == {f"billing/{s.asset_name}" for s in BILLING_TABLES} | {"billing/manifest"}
    checks = _checks(result)
    assert len(checks) == 2 * len(BILLING_TABLES) + 1 + 6
    assert all(e.passed for e in checks.values()), [e.description for e in checks.values() if not e.passed]
    credit_checks = materialized["billing/credit_checks"].materialization.metadata
    assert credit_checks["dagster/row_count"].value == 600
    manifest = json.loads((tmp_path / "billing-archive/2026/09/manifest.json").read_text())
    assert {f["table"] for f in manifest["files"]} == {s.asset_name for s in BILLING_TABLES}


@pytest.mark.parametrize("tamper", ["delete", "bytes", "manifest_count", "manifest_drops_table"])
def test_integrity_checks_catch_a_tampered_archive(billing_db: str, tmp_path, tamper: str) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert _materialize(str(tmp_path), billing_db, instance).success
    folder = tmp_path / "billing-archive/2026/09"
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if tamper == "delete":
        (folder / "charges-2026-09.parquet").unlink()
    elif tamper == "bytes":
        data = bytearray((folder / "charges-2026-09.parquet").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / "charges-2026-09.parquet").write_bytes(bytes(data))
    elif tamper == "manifest_count":
        manifest["files"][1]["records"] += 1
        manifest_path.write_text(json.dumps(manifest))
    else:
        manifest["files"] = [f for f in manifest["files"] if f["table"] != "charges"]
        manifest_path.write_text(json.dumps(manifest))

    verify = defs.resolve_job_def("billing_archive_verify")
    result = verify.execute_in_process(
        instance=instance,
        tags={"dagster/partition": PARTITION},
        raise_on_error=False,
        resources=_resources(str(tmp_path), billing_db),
    )
    assert not result.success  # blocking checks fail the run
    checks = _checks(result)
    failed = {key for key, e in checks.items() if not e.passed}
    expected = {
        "delete": {
            ("billing/charges", "row_count_matches_manifest"),
            ("billing/charges", "checksum_matches_manifest"),
        },
        "bytes": {("billing/charges", "checksum_matches_manifest")},
        "manifest_count": {("billing/charges", "row_count_matches_manifest")},
        "manifest_drops_table": {
            ("billing/charges", "row_count_matches_manifest"),
            ("billing/charges", "checksum_matches_manifest"),
            ("billing/manifest", "lists_every_table"),
        },
    }[tamper]
    assert expected <= failed
    # a flipped byte in the middle of a Parquet page may or may not break decoding; nothing else may fail
    assert failed - expected <= {("billing/charges", "row_count_matches_manifest")}


def test_untampered_archive_verifies(billing_db: str, tmp_path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert _materialize(str(tmp_path), billing_db, instance).success
    result = defs.resolve_job_def("billing_archive_verify").execute_in_process(
        instance=instance,
        tags={"dagster/partition": PARTITION},
        resources=_resources(str(tmp_path), billing_db),
    )
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())


def test_late_rows_raise_a_warning_not_a_failure(billing_db: str, tmp_path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert _materialize(str(tmp_path), billing_db, instance).success
    with psycopg2.connect(billing_db) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO charges (account_id, amount, created_at) "
            "SELECT id, 9.99, '2026-09-15Z' FROM accounts LIMIT 2"
        )
    drift_job = dg.Definitions(
        assets=ASSETS[:1],
        asset_checks=[billing_source_drift],
        resources=_resources(str(tmp_path), billing_db),
        jobs=[dg.define_asset_job("drift", selection=dg.AssetSelection.checks(billing_source_drift))],
    ).resolve_job_def("drift")
    result = drift_job.execute_in_process(
        instance=instance, tags={"dagster/partition": PARTITION}, raise_on_error=False
    )
    assert result.success  # non-blocking
    checks = _checks(result)
    drift = checks[("billing/charges", "source_row_count_unchanged")]
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    assert "archived 120, database now has 122" in drift.description
    assert checks[("billing/credits", "source_row_count_unchanged")].passed


def test_missing_database_url_fails_clearly_and_stores_nothing(tmp_path) -> None:
    result = _materialize(str(tmp_path), None)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "BILLING_DATABASE_URL is not set" in failure.step_failure_data.error.message
    assert not any(tmp_path.rglob("*.parquet"))


def test_database_password_never_reaches_the_event_log(tmp_path) -> None:
    result = _materialize(str(tmp_path), "postgresql://archiver:S3cr3t-pw@127.0.0.1:1/billing")
    assert not result.success
    text = "\n".join(str(e) for e in result.all_events)
    assert "127.0.0.1:1/billing" in text  # the error says where it tried
    assert "S3cr3t-pw" not in text


def test_missing_table_fails_clearly_and_stores_nothing(billing_db: str, tmp_path) -> None:
    with psycopg2.connect(billing_db) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE google_play_purchases")
    result = _materialize(str(tmp_path), billing_db)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "google_play_purchases" in failure.step_failure_data.error.message
    assert not any(tmp_path.rglob("*"))


def test_future_partition_is_refused(billing_db: str, tmp_path) -> None:
    with pytest.raises(dg.DagsterUnknownPartitionError, match="2999-01-01"):
        dg.materialize(ASSETS, resources=_resources(str(tmp_path), billing_db), partition_key="2999-01-01")
    assert not any(tmp_path.rglob("*"))


@pytest.mark.parametrize("table", ["api_keys", "admin_users", "provider_configs", "revoked_tokens"])
def test_never_archived_tables_are_refused_at_load_time(table: str) -> None:
    specs = [*BILLING_TABLES, BillingTableSpec(TableExport(table, table, table), "oops")]
    with pytest.raises(ForbiddenTableError, match=table):
        build_billing_archive(specs)


def test_schedule_requests_the_previous_month() -> None:
    schedule = defs.resolve_schedule_def("billing_monthly_archive")
    assert schedule.cron_schedule == "0 3 2 * *" and schedule.execution_timezone in (None, "UTC")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2027, 1, 2, 3, tzinfo=timezone.utc))
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-12-01"
    assert request.tags["usage_archive/database"] == "billing"
