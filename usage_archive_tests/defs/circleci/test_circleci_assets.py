"""The CircleCI assets and checks, run in-process with materialize() against the fake Usage API (real HTTP)
and the moto S3 server."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import time
from decimal import Decimal

import dagster as dg
import pytest

from usage_archive.archive.layout import CircleCILayout, circleci_export_job_key
from usage_archive.archive.store import S3ArchiveStore
from usage_archive.dagster_helpers import CHECKSUM_MATCHES_MANIFEST as CHECKSUM
from usage_archive.dagster_helpers import ROW_COUNT_MATCHES_MANIFEST as ROWS
from usage_archive.defs.circleci.assets import (
    USAGE_CSV,
    USAGE_JSON,
    build_circleci_assets,
    usage_csv,
    usage_hierarchical_json,
)
from usage_archive.defs.circleci.checks import (
    CREDIT_TOTALS,
    JOB_COUNT,
    READABLE_EXPORT,
    build_circleci_checks,
    circleci_usage_csv_readable,
    circleci_usage_integrity,
    circleci_usage_verify_job,
)
from usage_archive.defs.circleci.partitions import build_partitions
from usage_archive_tests.defs.circleci.wiring import materialize_usage_csv_in_child, usage_resources
from usage_archive_tests.fakes.circleci_api import LAST_WEEK, FakeUsageApi, gzip_parts

WEEK = LAST_WEEK.key
NEXT = LAST_WEEK.next().key
ASSETS = [usage_csv, usage_hierarchical_json, circleci_usage_integrity, circleci_usage_csv_readable]
PREFIX = "archive"


def resources(api: FakeUsageApi, endpoint: str, bucket: str, **circleci: object) -> dict[str, object]:
    return usage_resources(api, endpoint, bucket, PREFIX, **circleci)


def s3_store(s3_client, bucket: str) -> S3ArchiveStore:
    return S3ArchiveStore(s3_client, bucket, PREFIX)


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    """`<asset name>/<check name>` → passed (two assets carry the manifest checks)."""
    return {
        f"{e.asset_check_evaluation_data.asset_key.path[-1]}/{e.asset_check_evaluation_data.check_name}": (
            e.asset_check_evaluation_data.passed
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


CSV_OK = {f"usage_csv/{READABLE_EXPORT}": True, f"usage_csv/{ROWS}": True, f"usage_csv/{CHECKSUM}": True}
JSON_OK = {
    f"usage_hierarchical_json/{JOB_COUNT}": True,
    f"usage_hierarchical_json/{CREDIT_TOTALS}": True,
    f"usage_hierarchical_json/{ROWS}": True,
    f"usage_hierarchical_json/{CHECKSUM}": True,
}


def test_week_is_archived_as_csv_and_json_and_every_check_passes(
    usage_api, moto_endpoint, s3_bucket, s3_client
):
    result = dg.materialize(
        ASSETS, partition_key=WEEK, resources=resources(usage_api, moto_endpoint, s3_bucket)
    )
    assert result.success
    assert check_results(result) == {**CSV_OK, **JSON_OK}
    store = s3_store(s3_client, s3_bucket)
    stem = f"circleci-usage-data/usage-data-{WEEK}-to-{NEXT}"
    assert {o.key for o in store.list("circleci-usage-data/")} == {
        f"{stem}.csv",
        f"{stem}-hierarchical.json",
        f"{stem}-manifest.json",
    }
    manifest = json.loads(store.get_bytes(f"{stem}-manifest.json"))
    assert [(f["table"], f["path"]) for f in manifest["files"]] == [
        ("usage_csv", f"{stem}.csv"),
        ("usage_hierarchical_json", f"{stem}-hierarchical.json"),
    ]
    (job,) = manifest["provenance"]["export_jobs"]
    assert job["usage_export_job_id"] == next(iter(usage_api.jobs))
    assert (job["start"], job["end"]) == (f"{WEEK}T00:00:00Z", f"{LAST_WEEK.last_second:%Y-%m-%dT%H:%M:%S}Z")
    document = json.loads(store.get_bytes(f"{stem}-hierarchical.json"))
    csv_meta = result.asset_materializations_for_node("circleci__usage_csv")[0].metadata
    json_meta = result.asset_materializations_for_node("circleci__usage_hierarchical_json")[0].metadata
    assert csv_meta["parts"].value == 3
    assert csv_meta["dagster/row_count"].value == document["totals"]["jobs"]
    assert json_meta["jobs"].value == document["totals"]["jobs"] > 150 - 10
    exact = json.loads(store.get_bytes(f"{stem}-hierarchical.json"), parse_float=Decimal)
    assert json_meta["credits"].value["total"] == format(exact["totals"]["credits"]["total"], "f")
    # Secrets appear nowhere in what Dagster records: not the token, not the download URLs' signature.
    recorded = " ".join(str(e) for e in result.all_events)
    assert usage_api.token not in recorded
    assert "s3cr3t" not in recorded
    assert usage_api.posts == 1
    assert not store.exists(circleci_export_job_key("org-a", LAST_WEEK))


@pytest.mark.parametrize(
    ("settings", "variable"), [({"token": None}, "CIRCLECI_TOKEN"), ({"org_ids": None}, "CIRCLECI_ORG_ID")]
)
def test_missing_settings_fail_with_the_variable_name(
    usage_api, moto_endpoint, s3_bucket, settings, variable
):
    result = dg.materialize(
        [usage_csv],
        partition_key=WEEK,
        raise_on_error=False,
        resources=resources(usage_api, moto_endpoint, s3_bucket, **settings),
    )
    assert not result.success
    failure = result.failure_data_for_node("circleci__usage_csv")
    assert f"{variable} is not set" in failure.error.message
    assert usage_api.requests == []


def test_bad_token_fails_naming_the_setting_without_the_token(usage_api, moto_endpoint, s3_bucket):
    result = dg.materialize(
        [usage_csv],
        partition_key=WEEK,
        raise_on_error=False,
        resources=resources(usage_api, moto_endpoint, s3_bucket, token="tok-wrong-55"),
    )
    message = result.failure_data_for_node("circleci__usage_csv").error.message
    assert "401" in message
    assert "CIRCLECI_TOKEN" in message
    assert "tok-wrong-55" not in " ".join(str(e) for e in result.all_events)


def test_checks_fail_when_the_stored_files_are_corrupted(usage_api, moto_endpoint, s3_bucket, s3_client):
    res = resources(usage_api, moto_endpoint, s3_bucket)
    assert dg.materialize(ASSETS, partition_key=WEEK, resources=res).success
    store = s3_store(s3_client, s3_bucket)
    stem = f"circleci-usage-data/usage-data-{WEEK}-to-{NEXT}"
    document = json.loads(store.get_bytes(f"{stem}-hierarchical.json"))
    workflow, job = next(
        (w, j)
        for p in document["pipelines"]
        for w in p["workflows"]
        for j in w["jobs"]
        if j["credits"]["total"]
    )
    workflow["jobs"].remove(job)  # one job (with credits) lost
    store.put_bytes(f"{stem}-hierarchical.json", json.dumps(document).encode())
    verify = dg.Definitions(
        assets=ASSETS[:2], asset_checks=ASSETS[2:], jobs=[circleci_usage_verify_job], resources=res
    ).resolve_job_def("circleci_usage_verify")
    result = verify.execute_in_process(tags={"dagster/partition": WEEK}, raise_on_error=False)
    # The JSON lost a job: it disagrees with the CSV, and with its manifest entry (bytes, SHA-256, jobs).
    assert check_results(result) == {
        **CSV_OK,
        **{name: False for name in JSON_OK},
    }
    # A CSV without its WORKFLOW_ID column fails the CSV check.
    lines = store.get_bytes(f"{stem}.csv").decode().splitlines()
    store.put_bytes(
        f"{stem}.csv", "\n".join(line.replace("WORKFLOW_ID", "WORKFLOW") for line in lines).encode()
    )
    result = verify.execute_in_process(tags={"dagster/partition": WEEK}, raise_on_error=False)
    assert check_results(result)[f"usage_csv/{READABLE_EXPORT}"] is False


def test_a_part_that_cannot_be_read_stops_the_run_before_anything_is_stored(
    usage_api, moto_endpoint, s3_bucket, s3_client
):
    # A row cut short in the second part: the merge refuses it (naming the part and line) and stores nothing.
    broken = gzip.decompress(usage_api.parts[1]).decode().splitlines()
    broken[2] = '","'.join(broken[2].split('","')[:20]) + '"'
    usage_api.parts[1] = gzip.compress(("\n".join(broken) + "\n").encode())
    result = dg.materialize(
        ASSETS,
        partition_key=WEEK,
        raise_on_error=False,
        resources=resources(usage_api, moto_endpoint, s3_bucket),
    )
    assert not result.success
    message = result.failure_data_for_node("circleci__usage_csv").error.message
    assert "part 2 line 3 has 20 fields, the header has 48" in message
    assert not result.asset_materializations_for_node("circleci__usage_csv")
    assert not result.asset_materializations_for_node("circleci__usage_hierarchical_json")
    assert list(s3_store(s3_client, s3_bucket).list("circleci-usage-data/usage-data-")) == []


def test_several_orgs_are_archived_in_their_own_folders(
    usage_api, moto_endpoint, s3_bucket, s3_client, tmp_path
):
    orgs = ("org-a", "org-b")
    partitions = build_partitions(orgs)
    layout = CircleCILayout(orgs)
    assets = [
        *build_circleci_assets(partitions, layout, retry_policy=None),
        *build_circleci_checks(partitions, layout),
    ]
    usage_api.parts = gzip_parts(tmp_path, 60, 2, org_id="org-b")
    result = dg.materialize(
        assets,
        partition_key=f"org-b|{WEEK}",
        resources=resources(usage_api, moto_endpoint, s3_bucket, org_ids="org-a,org-b"),
    )
    assert result.success
    assert all(check_results(result).values())
    keys = {o.key for o in s3_store(s3_client, s3_bucket).list("circleci-usage-data/")}
    assert keys == {
        f"circleci-usage-data/org-b/usage-data-{WEEK}-to-{NEXT}.csv",
        f"circleci-usage-data/org-b/usage-data-{WEEK}-to-{NEXT}-hierarchical.json",
        f"circleci-usage-data/org-b/usage-data-{WEEK}-to-{NEXT}-manifest.json",
    }
    manifest = json.loads(
        s3_store(s3_client, s3_bucket).get_bytes(
            f"circleci-usage-data/org-b/usage-data-{WEEK}-to-{NEXT}-manifest.json"
        )
    )
    assert manifest["organization_id"] == "org-b"
    assert all("/organizations/org-b/" in r.path for r in usage_api.requests if "usage_export_job" in r.path)


def test_a_run_that_dies_after_creating_the_job_is_finished_by_the_next_without_a_post(
    usage_api, moto_endpoint, s3_bucket, s3_client
):
    usage_api.hold = True  # the export stays "processing" while the first run polls
    store = s3_store(s3_client, s3_bucket)
    child = multiprocessing.get_context("spawn").Process(
        target=materialize_usage_csv_in_child,
        args=(
            f"s3://{s3_bucket}/{PREFIX}",
            moto_endpoint,
            usage_api.base_url,
            usage_api.token,
            "org-a",
            WEEK,
        ),
    )
    child.start()
    try:
        deadline = time.monotonic() + 60
        while not store.exists(circleci_export_job_key("org-a", LAST_WEEK)):
            assert child.is_alive(), "the first run never created its export job"
            assert time.monotonic() < deadline, "the first run never created its export job"
            time.sleep(0.05)
    finally:
        child.kill()
        child.join(10)
    assert usage_api.posts == 1
    (job,) = json.loads(store.get_bytes(circleci_export_job_key("org-a", LAST_WEEK)))["jobs"]
    job_id = job["usage_export_job_id"]
    usage_api.hold = False
    result = dg.materialize(
        ASSETS, partition_key=WEEK, resources=resources(usage_api, moto_endpoint, s3_bucket)
    )
    assert result.success
    assert usage_api.posts == 1  # no second POST
    metadata = result.asset_materializations_for_node("circleci__usage_csv")[0].metadata
    assert metadata["export_job_id"].value == job_id
    assert metadata["resumed_export_job"].value is True


def test_asset_keys_never_change() -> None:
    assert usage_csv.key == USAGE_CSV == dg.AssetKey(["circleci", "usage_csv"])
    assert usage_hierarchical_json.key == USAGE_JSON == dg.AssetKey(["circleci", "usage_hierarchical_json"])
