"""CircleCI automation: the incoming/ sensor and its import job, the JSON that follows a new CSV through its
automation condition, and the Monday schedule."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from usage_archive.archive.layout import (
    CIRCLECI_IMPORTED_PREFIX,
    CIRCLECI_INCOMING_PREFIX,
    CircleCILayout,
)
from usage_archive.archive.store import LocalArchiveStore, S3ArchiveStore
from usage_archive.circleci.incoming import NotAUsageExport, import_export
from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive.defs.circleci.assets import USAGE_CSV, USAGE_JSON, build_circleci_assets
from usage_archive.defs.circleci.checks import READABLE_EXPORT, build_circleci_checks
from usage_archive.defs.circleci.jobs import build_import_job
from usage_archive.defs.circleci.partitions import build_partitions, circleci_weekly_partitions
from usage_archive.defs.circleci.schedules import build_weekly_schedule, circleci_weekly_usage_job
from usage_archive.defs.circleci.sensors import build_incoming_sensor, circleci_automation
from usage_archive.resources.archive_store import ArchiveStoreResource, S3ClientResource
from usage_archive.resources.circleci import CircleCIResource
from usage_archive_tests.defs.circleci.wiring import usage_resources
from usage_archive_tests.fakes.circleci_api import LAST_WEEK

WEEKS = [LAST_WEEK.previous(), LAST_WEEK]
ORG_A = CircleCILayout(("org-a",))
# The layout's folders end without a slash; these tests join file names onto them.
INCOMING_PREFIX = f"{CIRCLECI_INCOMING_PREFIX}/"
IMPORTED_PREFIX = f"{CIRCLECI_IMPORTED_PREFIX}/"


def week_key(week) -> str:
    return week.key


def csv_key(week) -> str:
    return ORG_A.csv_key("org-a", week)


def listing(store) -> dict[str, int]:
    return {o.key: o.bytes for o in store.list("")}


def run_messages(instance: dg.DagsterInstance, run_id: str) -> str:
    return "\n".join(e.user_message for e in instance.all_logs(run_id))


def csv_materializations(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.fetch_materializations(USAGE_CSV, limit=100).records
    return sorted(r.partition_key for r in records if r.run_id == run_id)


def test_a_dropped_file_becomes_an_import_run_with_its_own_log(moto_endpoint, s3_bucket, s3_client, tmp_path):
    store = S3ArchiveStore(s3_client, s3_bucket, "root")
    archive = ArchiveStoreResource(
        url=f"s3://{s3_bucket}/root", s3=S3ClientResource(endpoint_url=moto_endpoint)
    )
    store.put_file(
        f"{INCOMING_PREFIX}usage-from-web-app.csv.gz",
        write_export(
            tmp_path / "web-app.csv.gz", sample_rows(200, org_id="org-a", weeks=[w.monday for w in WEEKS])
        ),
    )
    store.put_bytes(f"{INCOMING_PREFIX}notes.csv", b"name,amount\nfoo,1\n")
    store.put_bytes(f"{INCOMING_PREFIX}readme.txt", b"hello")
    job = build_import_job(circleci_weekly_partitions, ORG_A)
    sensor = build_incoming_sensor(job)
    instance = dg.DagsterInstance.ephemeral()
    before = listing(store)

    with dg.build_sensor_context(instance=instance, resources={"archive_store": archive}) as context:
        tick = sensor(context)

    # The tick only looked: nothing stored, moved or run; one run requested per waiting file.
    assert listing(store) == before
    assert instance.get_runs() == []
    requests = {r.run_config["ops"]["import_usage_export"]["config"]["key"]: r for r in tick.run_requests}
    assert set(requests) == {
        f"{INCOMING_PREFIX}{n}" for n in ("usage-from-web-app.csv.gz", "notes.csv", "readme.txt")
    }
    assert len({r.run_key for r in tick.run_requests}) == len(requests)

    def run(key: str) -> dg.ExecuteInProcessResult:
        request = requests[key]
        return job.execute_in_process(
            run_config=request.run_config,
            tags=request.tags,
            instance=instance,
            resources={"archive_store": archive},
            raise_on_error=False,
        )

    imported = run(f"{INCOMING_PREFIX}usage-from-web-app.csv.gz")
    assert imported.success
    log = run_messages(instance, imported.run_id)
    for week in WEEKS:
        assert f"as org-a week {week} at {csv_key(week)}" in log
    assert f"moved {INCOMING_PREFIX}usage-from-web-app.csv.gz to {IMPORTED_PREFIX}" in log
    # Each archived week is a materialization of circleci/usage_csv, recorded by the import run itself.
    assert csv_materializations(instance, imported.run_id) == [week_key(w) for w in WEEKS]
    keys = set(listing(store))
    assert {csv_key(w) for w in WEEKS} <= keys
    assert f"{INCOMING_PREFIX}usage-from-web-app.csv.gz" not in keys
    assert any(k.startswith(IMPORTED_PREFIX) and k.endswith("usage-from-web-app.csv.gz") for k in keys)

    # Not usage exports: the run fails with the reason, the file stays, the reason is written beside it.
    for name, reason in (
        ("notes.csv", "missing required column(s) ORGANIZATION_ID"),
        ("readme.txt", "neither .csv nor .csv.gz"),
    ):
        rejected = run(f"{INCOMING_PREFIX}{name}")
        assert not rejected.success
        assert reason in rejected.failure_data_for_node("import_usage_export").user_failure_data.description
        assert reason in store.get_bytes(f"{INCOMING_PREFIX}{name}.rejected.txt").decode()
        assert store.exists(f"{INCOMING_PREFIX}{name}")

    # The next tick asks again only for what is still waiting, under the same run keys: the daemon does not
    # repeat a run it already made, so a rejected file waits until it changes.
    with dg.build_sensor_context(instance=instance, resources={"archive_store": archive}) as context:
        again = sensor(context)
    assert {r.run_key for r in again.run_requests} == {
        requests[f"{INCOMING_PREFIX}{n}"].run_key for n in ("notes.csv", "readme.txt")
    }
    store.put_bytes(f"{INCOMING_PREFIX}notes.csv", b"name,amount\nfoo,1\nbar,2\n")  # changed: asked again
    with dg.build_sensor_context(instance=instance, resources={"archive_store": archive}) as context:
        changed = sensor(context)
    assert requests[f"{INCOMING_PREFIX}notes.csv"].run_key not in {r.run_key for r in changed.run_requests}


def test_nothing_waiting_is_a_skip(tmp_path):
    archive = ArchiveStoreResource(url=str(tmp_path / "archive"))
    with dg.build_sensor_context(resources={"archive_store": archive}) as context:
        result = build_incoming_sensor()(context)
    assert not result.run_requests
    assert "nothing waits" in result.skip_reason.skip_message


def test_importing_the_same_export_twice_adds_nothing(tmp_path):
    store = LocalArchiveStore(tmp_path / "archive")
    export = write_export(
        tmp_path / "e.csv", sample_rows(80, org_id="org-a", weeks=[LAST_WEEK.monday]), compress=False
    )
    store.put_file(f"{INCOMING_PREFIX}e.csv", export)
    first = import_export(store, f"{INCOMING_PREFIX}e.csv", ORG_A)
    before = store.get_bytes(first.weeks[0].csv_key)
    store.put_file(f"{INCOMING_PREFIX}e.csv", export)
    second = import_export(store, f"{INCOMING_PREFIX}e.csv", ORG_A)
    assert store.get_bytes(second.weeks[0].csv_key) == before


def test_an_export_of_another_org_is_rejected(tmp_path):
    store = LocalArchiveStore(tmp_path / "archive")
    store.put_file(
        f"{INCOMING_PREFIX}x.csv.gz", write_export(tmp_path / "x.csv.gz", sample_rows(10, org_id="org-z"))
    )
    try:
        import_export(store, f"{INCOMING_PREFIX}x.csv.gz", ORG_A)
    except NotAUsageExport as exc:
        assert "organisation(s) org-z" in str(exc)
        assert "CIRCLECI_ORG_ID" in str(exc)
    else:
        raise AssertionError("an export of an organisation that is not configured was imported")
    assert store.exists(f"{INCOMING_PREFIX}x.csv.gz")


def test_an_export_of_two_orgs_lands_in_their_folders_and_partitions(tmp_path):
    archive = ArchiveStoreResource(url=str(tmp_path / "archive"))
    store = archive.get_store()
    rows = [
        *sample_rows(30, org_id="org-a", weeks=[LAST_WEEK.monday]),
        *sample_rows(30, org_id="org-b", weeks=[LAST_WEEK.monday]),
    ]
    store.put_file(f"{INCOMING_PREFIX}both.csv", write_export(tmp_path / "both.csv", rows, compress=False))
    orgs = ("org-a", "org-b")
    job = build_import_job(build_partitions(orgs), CircleCILayout(orgs))
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(
        run_config={"ops": {"import_usage_export": {"config": {"key": f"{INCOMING_PREFIX}both.csv"}}}},
        resources={"archive_store": archive},
        instance=instance,
    )
    assert csv_materializations(instance, result.run_id) == [f"{org}|{week_key(LAST_WEEK)}" for org in orgs]
    end = f"-to-{LAST_WEEK.end_day:%Y-%m-%d}.csv"
    assert {o.key.split("/")[1] for o in store.list("circleci-usage-data/") if o.key.endswith(end)} == set(
        orgs
    )


# ---- the JSON follows a new CSV: the automation condition, evaluated as the automation sensor does ----


def automation_defs(resources: dict[str, object]) -> dg.Definitions:
    return dg.Definitions(
        assets=build_circleci_assets(retry_policy=None),
        asset_checks=build_circleci_checks(),
        jobs=[build_import_job(circleci_weekly_partitions, ORG_A), circleci_weekly_usage_job],
        sensors=[circleci_automation],
        resources=resources,
    )


class Ticks:
    """Successive evaluations of the JSON's automation condition on one instance, cursor carried over."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs, self.instance, self.cursor = defs, instance, None

    def requested(self) -> list[str]:
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return sorted(result.get_requested_partitions(USAGE_JSON))


def test_json_follows_a_csv_stored_without_it(usage_api, moto_endpoint, s3_bucket, s3_client):
    resources = usage_resources(usage_api, moto_endpoint, s3_bucket)
    defs = automation_defs(resources)
    instance = dg.DagsterInstance.ephemeral()
    ticks = Ticks(defs, instance)
    assert ticks.requested() == []  # no CSV yet: nothing to follow

    # A run of the CSV alone (as from the UI): the next tick requests that week's JSON, once.
    week = week_key(LAST_WEEK)
    csv_job = defs.resolve_implicit_global_asset_job_def()
    assert csv_job.execute_in_process(
        asset_selection=[USAGE_CSV], partition_key=week, instance=instance
    ).success
    assert ticks.requested() == [week]
    assert ticks.requested() == []

    # The requested run builds the JSON from the stored CSV, with its blocking checks.
    built = csv_job.execute_in_process(asset_selection=[USAGE_JSON], partition_key=week, instance=instance)
    assert built.success
    assert all(e.passed for e in built.get_asset_check_evaluations())
    assert ticks.requested() == []

    # A run that builds both (the weekly job) needs no follower.
    weekly = defs.resolve_job_def(circleci_weekly_usage_job.name)
    assert weekly.execute_in_process(partition_key=week, instance=instance).success
    assert ticks.requested() == []


def test_json_follows_an_imported_export(moto_endpoint, s3_bucket, s3_client, tmp_path):
    archive = ArchiveStoreResource(
        url=f"s3://{s3_bucket}/root", s3=S3ClientResource(endpoint_url=moto_endpoint)
    )
    defs = automation_defs(
        {"archive_store": archive, "circleci": CircleCIResource()}
    )  # the API is not called
    instance = dg.DagsterInstance.ephemeral()
    ticks = Ticks(defs, instance)
    assert ticks.requested() == []
    store = S3ArchiveStore(s3_client, s3_bucket, "root")
    store.put_file(
        f"{INCOMING_PREFIX}e.csv.gz",
        write_export(
            tmp_path / "e.csv.gz", sample_rows(120, org_id="org-a", weeks=[w.monday for w in WEEKS])
        ),
    )
    imported = defs.resolve_job_def("circleci_import_export").execute_in_process(
        run_config={"ops": {"import_usage_export": {"config": {"key": f"{INCOMING_PREFIX}e.csv.gz"}}}},
        instance=instance,
    )
    assert imported.success
    assert ticks.requested() == [week_key(w) for w in WEEKS]
    assert ticks.requested() == []


def test_a_csv_whose_blocking_check_failed_is_not_followed(usage_api, moto_endpoint, s3_bucket):
    resources = usage_resources(usage_api, moto_endpoint, s3_bucket)
    defs = automation_defs(resources)
    instance = dg.DagsterInstance.ephemeral()
    ticks = Ticks(defs, instance)
    assert ticks.requested() == []
    week = week_key(LAST_WEEK)
    job = defs.resolve_implicit_global_asset_job_def()
    stored = job.execute_in_process(asset_selection=[USAGE_CSV], partition_key=week, instance=instance)
    assert stored.success
    # The stored CSV loses half a row afterwards (the merge refuses such a file, so it can only happen at rest);
    # its check, run again, fails on the same materialization.
    store = resources["archive_store"].get_store()
    key = ORG_A.csv_key("org-a", LAST_WEEK)
    lines = store.get_bytes(key).decode().splitlines()
    lines[2] = ",".join(lines[2].split(",")[:20])
    store.put_bytes(key, ("\n".join(lines) + "\n").encode())
    checks_only = dg.define_asset_job(
        "csv_checks_only", selection=dg.AssetSelection.checks_for_assets(USAGE_CSV)
    )
    checked = (
        dg.Definitions.merge(defs, dg.Definitions(jobs=[checks_only]))
        .resolve_job_def("csv_checks_only")
        .execute_in_process(tags={"dagster/partition": week}, instance=instance, raise_on_error=False)
    )
    failed = {e.check_name for e in checked.get_asset_check_evaluations() if not e.passed}
    assert READABLE_EXPORT in failed
    assert ticks.requested() == []


# ---- the Monday schedule, built from the partitioned job ----


def scheduled_partitions(partitions_def: dg.PartitionsDefinition, layout: CircleCILayout) -> list[str]:
    defs = dg.Definitions(
        assets=build_circleci_assets(partitions_def, layout, retry_policy=None),
        jobs=[circleci_weekly_usage_job],
        schedules=[build_weekly_schedule()],
        resources={"archive_store": ArchiveStoreResource(), "circleci": CircleCIResource()},
    )
    schedule = defs.resolve_schedule_def("circleci_weekly_usage_schedule")
    assert schedule.cron_schedule == "0 2 * * 1"
    assert schedule.execution_timezone == "UTC"
    monday = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    return [
        r.partition_key
        for r in schedule.evaluate_tick(
            dg.build_schedule_context(scheduled_execution_time=monday)
        ).run_requests
    ]


def test_monday_schedule_asks_for_last_week_for_every_org():
    assert scheduled_partitions(build_partitions(("org-a",)), ORG_A) == ["2026-11-16"]
    orgs = ("org-a", "org-b")
    assert sorted(scheduled_partitions(build_partitions(orgs), CircleCILayout(orgs))) == [
        "org-a|2026-11-16",
        "org-b|2026-11-16",
    ]
