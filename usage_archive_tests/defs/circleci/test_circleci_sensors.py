"""The import sensor (incoming/ → archived weeks → JSON runs) and the Monday schedule."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import dagster as dg
from dagster_aws.s3 import S3Resource

from usage_archive.archive.layout import (
    CIRCLECI_IMPORTED_PREFIX,
    CircleCILayout,
    circleci_incoming_key,
)
from usage_archive.archive.store import S3ArchiveStore
from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive.defs.circleci.assets import USAGE_CSV, USAGE_JSON, usage_csv, usage_hierarchical_json
from usage_archive.defs.circleci.checks import (
    CREDIT_TOTALS,
    JOB_COUNT,
    circleci_usage_csv_readable,
    circleci_usage_integrity,
)
from usage_archive.defs.circleci.partitions import build_partitions, circleci_weekly_partitions
from usage_archive.defs.circleci.schedules import build_weekly_schedule, circleci_weekly_usage_job
from usage_archive.defs.circleci.sensors import build_incoming_sensor, circleci_json_follows_csv
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.circleci import CircleCIResource
from usage_archive_tests.defs.circleci.wiring import usage_resources
from usage_archive_tests.fakes.circleci_api import LAST_WEEK

WEEKS = [LAST_WEEK.previous(), LAST_WEEK]


def test_incoming_export_is_archived_moved_and_its_json_follows(
    moto_endpoint, s3_bucket, s3_client, tmp_path
):
    store = S3ArchiveStore(s3_client, s3_bucket, "root")
    archive = ArchiveStoreResource(url=f"s3://{s3_bucket}/root", s3=S3Resource(endpoint_url=moto_endpoint))
    export = write_export(
        tmp_path / "web-app.csv.gz", sample_rows(200, org_id="org-a", weeks=[w.monday for w in WEEKS])
    )
    store.put_file(circleci_incoming_key("usage-from-web-app.csv.gz"), export)
    store.put_bytes(circleci_incoming_key("notes.csv"), b"name,amount\nfoo,1\n")
    store.put_bytes(circleci_incoming_key("readme.txt"), b"hello")
    sensor = build_incoming_sensor(circleci_weekly_partitions, CircleCILayout(("org-a",)))

    with dg.build_sensor_context(resources={"archive_store": archive}) as context:
        result = sensor(context)

    assert sorted(r.partition_key for r in result.run_requests) == [w.key for w in WEEKS]
    assert {e.asset_key for e in result.asset_events} == {USAGE_CSV}
    keys = {o.key for o in store.list("circleci-usage-data/")}
    for week in WEEKS:
        assert f"circleci-usage-data/usage-data-{week.label}.csv" in keys
    assert circleci_incoming_key("usage-from-web-app.csv.gz") not in keys
    assert any(
        k.startswith(f"{CIRCLECI_IMPORTED_PREFIX}/") and k.endswith("usage-from-web-app.csv.gz") for k in keys
    )
    # Not usage exports: left in place, with the reason next to them.
    assert circleci_incoming_key("notes.csv") in keys
    assert circleci_incoming_key("readme.txt") in keys
    reason = store.get_bytes(circleci_incoming_key("notes.csv.rejected.txt")).decode()
    assert "missing required column(s) ORGANIZATION_ID" in reason
    assert (
        "neither .csv nor .csv.gz"
        in store.get_bytes(circleci_incoming_key("readme.txt.rejected.txt")).decode()
    )

    # The next tick does not look at the rejected files again (same size), and requests nothing.
    with dg.build_sensor_context(resources={"archive_store": archive}, cursor=result.cursor) as context:
        again = sensor(context)
    assert again.run_requests == []
    assert json.loads(again.cursor) == json.loads(result.cursor)

    # The requested run builds the JSON from the imported CSV, and its blocking checks pass.
    run = dg.materialize(
        [usage_csv, usage_hierarchical_json, circleci_usage_integrity, circleci_usage_csv_readable],
        selection=[USAGE_JSON],
        partition_key=result.run_requests[0].partition_key,
        resources={"archive_store": archive, "circleci": CircleCIResource()},
    )  # no token needed
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in run.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert run.success
    assert checks == {JOB_COUNT: True, CREDIT_TOTALS: True}  # the JSON's checks; the CSV was not rebuilt


def test_importing_the_same_export_twice_adds_nothing(tmp_path):
    from usage_archive.archive.store import LocalArchiveStore
    from usage_archive.circleci.incoming import import_export

    store = LocalArchiveStore(tmp_path / "archive")
    export = write_export(
        tmp_path / "e.csv", sample_rows(80, org_id="org-a", weeks=[LAST_WEEK.monday]), compress=False
    )
    store.put_file(circleci_incoming_key("e.csv"), export)
    first = import_export(store, circleci_incoming_key("e.csv"), CircleCILayout(("org-a",)))
    before = store.get_bytes(first.weeks[0].csv_key)
    store.put_file(circleci_incoming_key("e.csv"), export)
    second = import_export(store, circleci_incoming_key("e.csv"), CircleCILayout(("org-a",)))
    assert store.get_bytes(second.weeks[0].csv_key) == before


def test_an_export_of_another_org_is_rejected(tmp_path):
    from usage_archive.archive.store import LocalArchiveStore
    from usage_archive.circleci.incoming import NotAUsageExport, import_export

    store = LocalArchiveStore(tmp_path / "archive")
    store.put_file(
        circleci_incoming_key("x.csv.gz"),
        write_export(tmp_path / "x.csv.gz", sample_rows(10, org_id="org-z")),
    )
    try:
        import_export(store, circleci_incoming_key("x.csv.gz"), CircleCILayout(("org-a",)))
    except NotAUsageExport as exc:
        assert "organisation(s) org-z" in str(exc)
        assert "CIRCLECI_ORG_ID" in str(exc)
    else:
        raise AssertionError("an export of an organisation that is not configured was imported")
    assert store.exists(circleci_incoming_key("x.csv.gz"))


def test_monday_schedule_asks_for_last_week_for_every_org():
    monday = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    single = build_weekly_schedule(circleci_weekly_usage_job, ("org-a",), circleci_weekly_partitions)
    assert single.cron_schedule == "0 2 * * 1"
    assert single.execution_timezone == "UTC"
    requests = single(dg.build_schedule_context(scheduled_execution_time=monday))
    assert [r.partition_key for r in requests] == ["2026-11-16"]
    multi = build_partitions(("org-a", "org-b"))
    several = build_weekly_schedule(circleci_weekly_usage_job, ("org-a", "org-b"), multi)
    requests = several(dg.build_schedule_context(scheduled_execution_time=monday))
    assert [r.partition_key for r in requests] == ["org-a|2026-11-16", "org-b|2026-11-16"]
    skipped = build_weekly_schedule(circleci_weekly_usage_job, (), circleci_weekly_partitions)
    skip = skipped(dg.build_schedule_context(scheduled_execution_time=monday))
    assert isinstance(skip, dg.SkipReason)
    assert "CIRCLECI_ORG_ID is not set" in skip.skip_message


def test_a_csv_only_run_is_followed_by_a_json_run(usage_api, moto_endpoint, s3_bucket):
    instance = dg.DagsterInstance.ephemeral()
    res = usage_resources(usage_api, moto_endpoint, s3_bucket)
    week = LAST_WEEK.key
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
    assert again.run_requests == []
    assert int(again.cursor) > int(result.cursor)


def test_an_export_of_two_orgs_lands_in_their_folders_and_partitions(tmp_path):
    archive = ArchiveStoreResource(url=str(tmp_path / "archive"))
    store = archive.get_store()
    rows = [
        *sample_rows(30, org_id="org-a", weeks=[LAST_WEEK.monday]),
        *sample_rows(30, org_id="org-b", weeks=[LAST_WEEK.monday]),
    ]
    store.put_file(
        circleci_incoming_key("both.csv"), write_export(tmp_path / "both.csv", rows, compress=False)
    )
    orgs = ("org-a", "org-b")
    sensor = build_incoming_sensor(build_partitions(orgs), CircleCILayout(orgs))
    with dg.build_sensor_context(resources={"archive_store": archive}) as context:
        result = sensor(context)
    assert sorted(r.partition_key for r in result.run_requests) == [f"{org}|{LAST_WEEK.key}" for org in orgs]
    csv_keys = {o.key for o in store.list("circleci-usage-data/") if o.key.endswith(f"{LAST_WEEK.label}.csv")}
    assert csv_keys == {f"circleci-usage-data/{org}/usage-data-{LAST_WEEK.label}.csv" for org in orgs}
