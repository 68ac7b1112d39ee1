"""The governance jobs and sensors, run in process against the moto S3 server, real Postgres data and a local
Slack-compatible webhook."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource
from pydantic import Field

from usage_archive.archive.store import ArchiveStore
from usage_archive.defs.ops.checks import MONTHLY_ASSETS, monthly_freshness_checks
from usage_archive.defs.ops.jobs import archive_verify_job, bucket_apply_job, bucket_check_job
from usage_archive.defs.ops.sensors import alert_on_run_failure, alert_on_stale_archive, restore_completed
from usage_archive.governance.restore import read_record, request_restores
from usage_archive.resources.alerts import AlertWebhookResource
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive_tests.fakes.webhook import FakeWebhook
from usage_archive_tests.governance.archive_fixtures import PERIOD, ArchivedMonths, RestoringS3

UI = "https://dagster.example.com"


def store_resource(archived: ArchivedMonths, moto_endpoint: str) -> ArchiveStoreResource:
    return ArchiveStoreResource(
        url=f"s3://{archived.bucket}/prod",
        storage_class="STANDARD",
        s3=S3Resource(endpoint_url=moto_endpoint),
    )


class RestoringArchiveStore(ArchiveStoreResource):
    """The archive store resource, with S3 still restoring the listed objects (see RestoringS3)."""

    restoring: list[str] = Field(default_factory=list)

    def get_store(self) -> ArchiveStore:
        real = super().get_store()
        store = RestoringS3(real.client, real.bucket, real.prefix)
        store.restoring = frozenset(self.restoring)
        return store


def corrupt(archived: ArchivedMonths) -> str:
    key = next(k for k in archived.file_keys() if "credits" in k)
    data = bytearray(archived.store.get_bytes(key))
    data[len(data) // 3] ^= 0x10
    archived.store.put_bytes(key, bytes(data))
    return key


def failure_context(
    instance: dg.DagsterInstance, run_id: str, webhook: AlertWebhookResource
) -> dg.RunFailureSensorContext:
    run = instance.get_run_by_id(run_id)
    failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    return dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
        resources={"alert_webhook": webhook},
    ).for_run_failure()


def test_verify_job_passes_then_fails_on_a_corrupted_object(archived, moto_endpoint: str) -> None:
    resources = {"archive_store": store_resource(archived, moto_endpoint)}
    config = {"ops": {"verify_archive": {"config": {"all_months": True}}}}
    assert archive_verify_job.execute_in_process(run_config=config, resources=resources).success

    key = corrupt(archived)
    result = archive_verify_job.execute_in_process(
        run_config={"ops": {"verify_archive": {"config": {"period": PERIOD}}}},
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("verify_archive").user_failure_data
    assert "1 mismatch(es)" in failure.description and key in failure.description
    assert "MISMATCH" in failure.metadata["summary"].value


def test_bucket_jobs_apply_and_report_drift(archived, moto_endpoint: str) -> None:
    resources = {"archive_store": store_resource(archived, moto_endpoint)}
    config = {"ops": {"check_bucket_settings": {"config": {"object_lock_days": 1}}}}
    assert bucket_check_job.execute_in_process(run_config=config, resources=resources).success

    archived.client.delete_bucket_encryption(Bucket=archived.bucket)
    result = bucket_check_job.execute_in_process(run_config=config, resources=resources, raise_on_error=False)
    assert not result.success
    assert (
        "encryption: expected 'AES256', found None"
        in result.failure_data_for_node("check_bucket_settings").user_failure_data.description
    )

    apply = {"ops": {"apply_bucket_settings": {"config": {"object_lock_days": 1}}}}
    assert bucket_apply_job.execute_in_process(run_config=apply, resources=resources).success
    assert bucket_check_job.execute_in_process(run_config=config, resources=resources).success


def test_bucket_job_on_a_local_archive_has_nothing_to_do(tmp_path) -> None:
    result = bucket_check_job.execute_in_process(
        resources={"archive_store": ArchiveStoreResource(url=str(tmp_path))}
    )
    assert result.success


def test_run_failure_alert_reaches_the_webhook_without_secrets(
    archived, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    corrupt(archived)
    result = archive_verify_job.execute_in_process(
        run_config={"ops": {"verify_archive": {"config": {"period": PERIOD}}}},
        resources={"archive_store": store_resource(archived, moto_endpoint)},
        instance=instance,
        tags={"dagster/partition": "2025-01-01"},
        raise_on_error=False,
    )
    assert not result.success
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")  # as set for the session: must never be posted

    with FakeWebhook() as hook:
        webhook = AlertWebhookResource(webhook_url=hook.url, ui_url=UI)
        alert_on_run_failure(failure_context(instance, result.run_id, webhook))
        assert len(hook.payloads) == 1
        text = hook.payloads[0]["text"]
        assert "Dagster run failed: archive_verify_job [2025-01-01]" in text
        assert "verify_archive: 1 mismatch(es)" in text and "SHA-256" in text
        assert f"{UI}/runs/{result.run_id}" in text
        assert "testing" not in str(hook.payloads) and hook.path not in str(hook.payloads)

        hook.status = 403  # a revoked webhook: the sensor tick fails, naming host and status only
        with pytest.raises(Exception, match="answered HTTP 403") as info:
            alert_on_run_failure(failure_context(instance, result.run_id, webhook))
        assert "s3cr3t" not in str(info.value)


def test_no_webhook_configured_means_no_post(archived, moto_endpoint: str) -> None:
    instance = dg.DagsterInstance.ephemeral()
    corrupt(archived)
    result = archive_verify_job.execute_in_process(
        run_config={"ops": {"verify_archive": {"config": {"period": PERIOD}}}},
        resources={"archive_store": store_resource(archived, moto_endpoint)},
        instance=instance,
        raise_on_error=False,
    )
    with FakeWebhook() as hook:
        alert_on_run_failure(failure_context(instance, result.run_id, AlertWebhookResource()))
        assert hook.requests == []


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


def test_restore_sensor_waits_then_launches_verify(archived, moto_endpoint: str, hook: FakeWebhook) -> None:
    for key in archived.file_keys():
        archived.move_to(key, "DEEP_ARCHIVE")
    instance = dg.DagsterInstance.ephemeral()
    real = store_resource(archived, moto_endpoint)

    def tick(resource: ArchiveStoreResource) -> dg.SkipReason | list[dg.RunRequest]:
        resources = {"archive_store": resource, "alert_webhook": AlertWebhookResource(webhook_url=hook.url)}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            return restore_completed(context)

    assert "no restore in progress" in tick(real).skip_message
    request_restores(archived.store, PERIOD, tier="Standard")

    slow = RestoringArchiveStore(
        url=real.url,
        storage_class="STANDARD",
        s3=S3Resource(endpoint_url=moto_endpoint),
        restoring=archived.file_keys(),
    )
    waiting = tick(slow)
    assert isinstance(waiting, dg.SkipReason) and "2025-01: pending (2 in-progress" in waiting.skip_message
    assert read_record(archived.store, PERIOD)["status"] == "pending"
    assert hook.payloads == []

    requests = tick(real)
    assert len(hook.payloads) == 1 and "Restore of 2025-01 complete" in hook.payloads[0]["text"]
    assert "usage-archive fetch --period 2025-01" in hook.payloads[0]["text"]
    assert [r.run_config for r in requests] == [{"ops": {"verify_archive": {"config": {"period": PERIOD}}}}]
    assert read_record(archived.store, PERIOD)["status"] == "complete"
    assert "no restore in progress" in tick(real).skip_message
    run = archive_verify_job.execute_in_process(
        run_config=requests[0].run_config, resources={"archive_store": real}
    )
    assert run.success  # the restored month reads back in full


def test_restore_sensor_skips_a_local_archive(tmp_path) -> None:
    resources = {
        "archive_store": ArchiveStoreResource(url=str(tmp_path)),
        "alert_webhook": AlertWebhookResource(),
    }
    with dg.build_sensor_context(resources=resources) as context:
        assert "local archive" in restore_completed(context).skip_message


def test_stale_month_is_flagged_and_alerted() -> None:
    instance = dg.DagsterInstance.ephemeral()
    months = dg.MonthlyPartitionsDefinition(start_date="2024-01-01", end_offset=0)

    @dg.asset(key=MONTHLY_ASSETS[0], partitions_def=months)
    def manifest() -> None:  # stands in for billing/manifest: only its materialization records matter here
        return None

    def run_checks() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [manifest, *monthly_freshness_checks],
            instance=instance,
            selection=dg.AssetSelection.checks(*monthly_freshness_checks),
        )

    late = run_checks()
    [evaluation] = late.get_asset_check_evaluations()
    assert not evaluation.passed and months.get_last_partition_key() in evaluation.description

    with FakeWebhook() as hook:
        webhook = AlertWebhookResource(webhook_url=hook.url, ui_url=UI)
        run = instance.get_run_by_id(late.run_id)
        success = instance.all_logs(late.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[0].dagster_event
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_stale_archive",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=success,
            resources={"alert_webhook": webhook},
        )
        alert_on_stale_archive(context)
        assert len(hook.payloads) == 1 and "Archive not on time" in hook.payloads[0]["text"]
        assert "billing/manifest" in hook.payloads[0]["text"]

        instance.report_runless_asset_event(
            dg.AssetMaterialization(MONTHLY_ASSETS[0], partition=months.get_last_partition_key())
        )
        fresh = run_checks()
        assert fresh.get_asset_check_evaluations()[0].passed
        success = instance.all_logs(fresh.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[0].dagster_event
        alert_on_stale_archive(
            dg.build_run_status_sensor_context(
                sensor_name="alert_on_stale_archive",
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(fresh.run_id),
                dagster_event=success,
                resources={"alert_webhook": webhook},
            )
        )
        assert len(hook.payloads) == 1  # nothing new to report
