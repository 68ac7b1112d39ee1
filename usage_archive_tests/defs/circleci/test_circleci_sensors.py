"""The import sensor (incoming/ → archived weeks → JSON runs) and the Monday schedule."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import dagster as dg
from dagster_aws.s3 import S3Resource

from usage_archive.archive.store import S3ArchiveStore
from usage_archive.circleci.incoming import IMPORTED_PREFIX, INCOMING_PREFIX
from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive.circleci.weekly import ArchiveLayout
from usage_archive.defs.circleci.assets import USAGE_CSV, USAGE_JSON, usage_csv, usage_hierarchical_json
from usage_archive.defs.circleci.checks import circleci_usage_csv_readable, circleci_usage_integrity
from usage_archive.defs.circleci.partitions import build_partitions, circleci_weekly_partitions
from usage_archive.defs.circleci.schedules import build_weekly_schedule, circleci_weekly_usage_job
from usage_archive.defs.circleci.sensors import build_incoming_sensor, circleci_json_follows_csv
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.circleci import CircleCIResource
from usage_archive_tests.fakes.circleci_api import LAST_WEEK, usage_resources

WEEKS = [LAST_WEEK - timedelta(days=7), LAST_WEEK]


def test_incoming_export_is_archived_moved_and_its_json_follows(
    moto_endpoint, s3_bucket, s3_client, tmp_path
):
    store = S3ArchiveStore(s3_client, s3_bucket, "root")
    archive = ArchiveStoreResource(url=f"s3://{s3_bucket}/root", s3=S3Resource(endpoint_url=moto_endpoint))
    export = write_export(tmp_path / "web-app.csv.gz", sample_rows(200, org_id="org-a", weeks=WEEKS))
    store.put_file(f"{INCOMING_PREFIX}usage-from-web-app.csv.gz", export)
    store.put_bytes(f"{INCOMING_PREFIX}notes.csv", b"name,amount\nfoo,1\n")
    store.put_bytes(f"{INCOMING_PREFIX}readme.txt", b"hello")
    sensor = build_incoming_sensor(circleci_weekly_partitions, ArchiveLayout(("org-a",)))

    with dg.build_sensor_context(resources={"archive_store": archive}) as context:
        result = sensor(context)

    assert sorted(r.partition_key for r in result.run_requests) == [f"{w:%Y-%m-%d}" for w in WEEKS]
    assert {e.asset_key for e in result.asset_events} == {USAGE_CSV}
    keys = {o.key for o in store.list("circleci-usage-data/")}
    for week in WEEKS:
        assert (
            f"circleci-usage-data/usage-data-{week:%Y-%m-%d}-to-{week + timedelta(days=7):%Y-%m-%d}.csv"
            in keys
        )
    assert f"{INCOMING_PREFIX}usage-from-web-app.csv.gz" not in keys
    assert any(k.startswith(IMPORTED_PREFIX) and k.endswith("usage-from-web-app.csv.gz") for k in keys)
    # Not usage exports: left in place, with the reason next to them.
    assert f"{INCOMING_PREFIX}notes.csv" in keys and f"{INCOMING_PREFIX}readme.txt" in keys
    reason = store.get_bytes(f"{INCOMING_PREFIX}notes.csv.rejected.txt").decode()
    assert "missing required column(s) ORGANIZATION_ID" in reason
    assert "neither .csv nor .csv.gz" in store.get_bytes(f"{INCOMING_PREFIX}readme.txt.rejected.txt").decode()

    # The next tick does not look at the rejected files again (same size), and requests nothing.
    with dg.build_sensor_context(resources={"archive_store": archive}, cursor=result.cursor) as context:
        again = sensor(context)
    assert again.run_requests == [] and json.loads(again.cursor) == json.loads(result.cursor)

    # The requested run builds the JSON from the imported CSV, and its blocking checks pass.
    run = dg.materialize(
        [usage_csv, usage_hierarchical_json, circleci_usage_integrity, circleci_usage_csv_readable],
        selection=[USAGE_JSON],
        partition_key=result.run_requests[0].partition_key,
        resources={"archive_store": archive, "circleci": CircleCIResource()},
    )  # no token needed
    checks = [e for e in run.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert run.success and len(checks) == 2 and all(e.asset_check_evaluation_data.passed for e in checks)


def test_importing_the_same_export_twice_adds_nothing(tmp_path):
    from usage_archive.archive.store import LocalArchiveStore
    from usage_archive.circleci.incoming import import_export

    store = LocalArchiveStore(tmp_path / "archive")
    export = write_export(
        tmp_path / "e.csv", sample_rows(80, org_id="org-a", weeks=[LAST_WEEK]), compress=False
    )
    store.put_file(f"{INCOMING_PREFIX}e.csv", export)
    first = import_export(store, f"{INCOMING_PREFIX}e.csv", ArchiveLayout(("org-a",)))
    before = store.get_bytes(first.weeks[0].csv_key)
    store.put_file(f"{INCOMING_PREFIX}e.csv", export)
    second = import_export(store, f"{INCOMING_PREFIX}e.csv", ArchiveLayout(("org-a",)))
    assert store.get_bytes(second.weeks[0].csv_key) == before


def test_an_export_of_another_org_is_rejected(tmp_path):
    from usage_archive.archive.store import LocalArchiveStore
    from usage_archive.circleci.incoming import NotAUsageExport, import_export

    store = LocalArchiveStore(tmp_path / "archive")
    store.put_file(
        f"{INCOMING_PREFIX}x.csv.gz", write_export(tmp_path / "x.csv.gz", sample_rows(10, org_id="org-z"))
    )
    try:
        import_export(store, f"{INCOMING_PREFIX}x.csv.gz", ArchiveLayout(("org-a",)))
    except NotAUsageExport as exc:
        assert "organisation(s) org-z" in str(exc) and "CIRCLECI_ORG_ID" in str(exc)
    else:
        raise AssertionError("an export of an organisation that is not configured was imported")
    assert store.exists(f"{INCOMING_PREFIX}x.csv.gz")


def test_monday_schedule_asks_for_last_week_for_every_org():
    monday = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    single = build_weekly_schedule(circleci_weekly_usage_job, ("org-a",), circleci_weekly_partitions)
    assert single.cron_schedule == "0 2 * * 1" and single.execution_timezone == "UTC"
    requests = single(dg.build_schedule_context(scheduled_execution_time=monday))
    assert [r.partition_key for r in requests] == ["2026-11-16"]
    multi = build_partitions(("org-a", "org-b"), "2025-01-06")
    several = build_weekly_schedule(circleci_weekly_usage_job, ("org-a", "org-b"), multi)
    requests = several(dg.build_schedule_context(scheduled_execution_time=monday))
    assert [r.partition_key for r in requests] == ["org-a|2026-11-16", "org-b|2026-11-16"]
    skipped = build_weekly_schedule(circleci_weekly_usage_job, (), circleci_weekly_partitions)
    skip = skipped(dg.build_schedule_context(scheduled_execution_time=monday))
    assert isinstance(skip, dg.SkipReason) and "CIRCLECI_ORG_ID is not set" in skip.skip_message


def test_a_csv_only_run_is_followed_by_a_json_run(usage_api, moto_endpoint, s3_bucket):
    instance = dg.DagsterInstance.ephemeral()
    res = usage_resources(usage_api, moto_endpoint, s3_bucket)
    week = f"{LAST_WEEK:%Y-%m-%d}"
    assert dg.materialize([usage_csv], partition_key=week, resources=res, instance=instance).success
    with dg.build_sensor_context(instance=instance) as context:
        result = circleci_json_follows_csv(context)
    assert [r.partition_key for r in result.run_requests] == [week]
    # The same event is not followed twice; a run that builds both assets needs no follower.
    assert dg.materialize(
        [usage_csv, usage_hierarchical_json], partition_key=week, resources=res, instance=instance
    ).success
    instance.report_runless_asset_event(dg.AssetMaterialization(USAGE_CSV, partition=week))  # an import
    with dg.build_sensor_context(instance=instance, cursor=result.cursor) as context:
        again = circleci_json_follows_csv(context)
    assert again.run_requests == [] and int(again.cursor) > int(result.cursor)


def test_an_export_of_two_orgs_lands_in_their_folders_and_partitions(tmp_path):
    archive = ArchiveStoreResource(url=str(tmp_path / "archive"))
    store = archive.get_store()
    rows = [
        *sample_rows(30, org_id="org-a", weeks=[LAST_WEEK]),
        *sample_rows(30, org_id="org-b", weeks=[LAST_WEEK]),
    ]
    store.put_file(f"{INCOMING_PREFIX}both.csv", write_export(tmp_path / "both.csv", rows, compress=False))
    orgs = ("org-a", "org-b")
    sensor = build_incoming_sensor(build_partitions(orgs, "2025-01-06"), ArchiveLayout(orgs))
    with dg.build_sensor_context(resources={"archive_store": archive}) as context:
        result = sensor(context)
    assert sorted(r.partition_key for r in result.run_requests) == [
        f"{org}|{LAST_WEEK:%Y-%m-%d}" for org in orgs
    ]
    assert {
        o.key.split("/")[1]
        for o in store.list("circleci-usage-data/")
        if o.key.endswith("-to-" + f"{LAST_WEEK + timedelta(days=7):%Y-%m-%d}.csv")
    } == set(orgs)
