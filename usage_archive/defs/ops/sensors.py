"""Operational sensors: failure alerts, stale-archive alerts, and restore completion.

- `alert_on_run_failure`: every failed run of this code location → the webhook (job, partition, error, link).
- `alert_on_stale_archive`: a run whose freshness check failed → the webhook (which month or week is late).
- `restore_completed`: polls the restore records under `.restores/`; once every object of a month is readable
  again it marks the record complete, posts "restore complete" to the webhook (restores take hours), and
  launches `archive_verify_job` for that month (the restored copies are read in full), so the operator knows
  the month is ready for `usage-archive fetch`.
"""

from typing import Any

import dagster as dg

from usage_archive.archive.store import ArchiveStoreError, S3ArchiveStore
from usage_archive.defs.ops.checks import FRESHNESS_CHECK_NAME
from usage_archive.defs.ops.jobs import archive_verify_job
from usage_archive.governance.alerts import AlertError, run_url
from usage_archive.governance.restore import pending_records, poll_restores, summarise
from usage_archive.resources.alerts import AlertWebhookResource
from usage_archive.resources.archive_store import ArchiveStoreResource

RESTORE_POLL_SECONDS = 600  # S3 restores take hours; a HEAD per object every ten minutes is plenty


def run_partition(tags: dict[str, str]) -> str | None:
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    return f"{start}…{end}" if start and end else None


def failure_text(context: dg.RunFailureSensorContext) -> str:
    """The steps' own errors (what went wrong), else the run's failure message."""
    parts = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        description = data.user_failure_data.description if data.user_failure_data else None
        message = description or (data.error.message.strip() if data.error else "")
        parts.append(f"{event.step_key}: {message}")
    return "\n".join(parts) or (context.failure_event.message or "the run failed")


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Post failed runs to ALERT_WEBHOOK_URL (Slack-compatible).",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhookResource) -> None:
    run = context.dagster_run
    partition = run_partition(dict(run.tags))
    if not alert_webhook.enabled:
        context.log.info(
            f"run {run.run_id} of {run.job_name} failed; ALERT_WEBHOOK_URL is not set, no alert sent"
        )
        return
    try:
        alert_webhook.send_failure(
            job_name=run.job_name, run_id=run.run_id, error=failure_text(context), partition=partition
        )
    except AlertError as exc:  # says host and status only
        context.log.error(f"could not alert about run {run.run_id}: {exc}")
        raise
    context.log.info(f"alert sent for run {run.run_id} of {run.job_name}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="alert_on_stale_archive",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Post failed freshness checks (a month or week archived late) to the webhook.",
)
def alert_on_stale_archive(context: dg.RunStatusSensorContext, alert_webhook: AlertWebhookResource) -> None:
    run = context.dagster_run
    stale = []
    for entry in context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if evaluation is None or evaluation.check_name != FRESHNESS_CHECK_NAME or evaluation.passed:
            continue
        stale.append(
            f"{evaluation.asset_key.to_user_string()}: {evaluation.description or 'not archived on time'}"
        )
    if not stale:
        return
    if not alert_webhook.enabled:
        context.log.warning("stale archives (ALERT_WEBHOOK_URL not set): " + "; ".join(stale))
        return
    alert_webhook.send_text("Archive not on time", stale, link=run_url(alert_webhook.ui_url, run.run_id))


def _notify_restored(
    context: dg.SensorEvaluationContext, alert_webhook: AlertWebhookResource, record: dict[str, Any]
) -> None:
    if not alert_webhook.enabled:
        return
    lines = [
        summarise(record),
        f"fetch it: usage-archive fetch --period {record['period']} --to DIR "
        f"(readable for {record['days']} days)",
    ]
    try:
        alert_webhook.send_text(f"Restore of {record['period']} complete", lines)
    except AlertError as exc:  # a missed notice must not hold back the verify run
        context.log.error(f"could not post the restore notice: {exc}")


@dg.sensor(
    name="restore_completed",
    job=archive_verify_job,
    minimum_interval_seconds=RESTORE_POLL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Report when requested Glacier restores have completed, then verify the restored month.",
)
def restore_completed(
    context: dg.SensorEvaluationContext,
    archive_store: ArchiveStoreResource,
    alert_webhook: AlertWebhookResource,
) -> dg.SkipReason | list[dg.RunRequest]:
    store = archive_store.get_store()
    if not isinstance(store, S3ArchiveStore):
        return dg.SkipReason(f"{store.uri()} is a local archive: nothing is ever restored")
    try:
        records = pending_records(store)
    except ArchiveStoreError as exc:
        return dg.SkipReason(f"cannot read the restore records: {exc}")
    if not records:
        return dg.SkipReason("no restore in progress")
    requests, waiting = [], []
    for record in records:
        polled = poll_restores(store, record["period"])
        context.log.info(summarise(polled))
        if polled["status"] == "complete":
            _notify_restored(context, alert_webhook, polled)
            requests.append(
                dg.RunRequest(
                    run_key=f"restored-{polled['period']}-{polled['requested_at']}",
                    run_config={"ops": {"verify_archive": {"config": {"period": polled["period"]}}}},
                    tags={"usage_archive/restored": polled["period"]},
                )
            )
        else:
            waiting.append(summarise(polled))
    if requests:
        return requests
    return dg.SkipReason("restores still running: " + " | ".join(waiting))
