"""A CircleCI week against its manifest, on the moto S3 server: tampered with after it was archived (object deleted,
one byte flipped, the manifest's row count edited), the right blocking check fails and `usage-archive verify` exits
1 naming the problem; the manifest follows imports; restore and fetch work on weeks."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from usage_archive.archive.layout import CircleCILayout, circleci_incoming_key
from usage_archive.archive.store import S3ArchiveStore
from usage_archive.circleci.incoming import import_export
from usage_archive.circleci.manifest import WeekManifestError
from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive.circleci.weekly import archive_week_json
from usage_archive.cli import main
from usage_archive.dagster_helpers import CHECKSUM_MATCHES_MANIFEST as CHECKSUM
from usage_archive.dagster_helpers import ROW_COUNT_MATCHES_MANIFEST as ROWS
from usage_archive.defs.circleci.assets import usage_csv, usage_hierarchical_json
from usage_archive.defs.circleci.checks import (
    CREDIT_TOTALS,
    JOB_COUNT,
    READABLE_EXPORT,
    circleci_usage_csv_readable,
    circleci_usage_integrity,
    circleci_usage_verify_job,
)
from usage_archive_tests.defs.circleci.wiring import usage_resources
from usage_archive_tests.fakes.circleci_api import LAST_WEEK, FakeUsageApi

WEEK = LAST_WEEK.key
PREFIX = "archive"
LAYOUT = CircleCILayout()
CSV, JSON_KEY, MANIFEST = (
    LAYOUT.csv_key("org-a", LAST_WEEK),
    LAYOUT.json_key("org-a", LAST_WEEK),
    LAYOUT.manifest_key("org-a", LAST_WEEK),
)
CSV_CHECKS = (f"usage_csv/{READABLE_EXPORT}", f"usage_csv/{ROWS}", f"usage_csv/{CHECKSUM}")
JSON_CHECKS = tuple(f"usage_hierarchical_json/{c}" for c in (JOB_COUNT, CREDIT_TOTALS, ROWS, CHECKSUM))


def flip_a_byte(data: bytes) -> bytes:
    """The case of one letter in the first data row: the CSV still reads, with the same rows and credits."""
    at = data.index(b"\n") + 1
    while not chr(data[at]).islower():
        at += 1
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :]


def edit_row_count(table: str):
    def edit(data: bytes) -> bytes:
        manifest = json.loads(data)
        next(f for f in manifest["files"] if f["table"] == table)["records"] += 1
        return json.dumps(manifest).encode()

    return edit


@pytest.fixture
def archived(usage_api: FakeUsageApi, moto_endpoint: str, s3_bucket: str, s3_client, monkeypatch):
    """Last week of org-a archived by a real run; `usage-archive` pointed at the same bucket."""
    resources = usage_resources(usage_api, moto_endpoint, s3_bucket, PREFIX)
    checks = [circleci_usage_integrity, circleci_usage_csv_readable]
    assert dg.materialize(
        [usage_csv, usage_hierarchical_json, *checks], partition_key=WEEK, resources=resources
    )
    monkeypatch.setenv("ARCHIVE_URL", f"s3://{s3_bucket}/{PREFIX}")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    defs = dg.Definitions(
        assets=[usage_csv, usage_hierarchical_json],
        asset_checks=checks,
        jobs=[circleci_usage_verify_job],
        resources=resources,
    )
    return defs, S3ArchiveStore(s3_client, s3_bucket, PREFIX, storage_class="STANDARD")


def failing_checks(defs: dg.Definitions) -> set[str]:
    job = defs.resolve_job_def("circleci_usage_verify")
    result = job.execute_in_process(tags={"dagster/partition": WEEK}, raise_on_error=False)
    return {
        f"{e.asset_key.path[-1]}/{e.check_name}" for e in result.get_asset_check_evaluations() if not e.passed
    }


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rewrite(key: str, change):
    return lambda store: store.put_bytes(key, change(store.get_bytes(key)))


@pytest.mark.parametrize(
    ("tamper", "failing", "named"),
    [
        (lambda store: store.delete(JSON_KEY), set(JSON_CHECKS), f"{JSON_KEY} is missing from the archive"),
        (
            lambda store: store.delete(CSV),
            {*CSV_CHECKS, *JSON_CHECKS[:2]},  # the JSON itself is intact, but nothing to compare it with
            f"{CSV} is missing from the archive",
        ),
        (rewrite(CSV, flip_a_byte), {f"usage_csv/{CHECKSUM}"}, f"{CSV} SHA-256"),
        (
            rewrite(MANIFEST, edit_row_count("usage_hierarchical_json")),
            {f"usage_hierarchical_json/{ROWS}"},
            f"{JSON_KEY} has",
        ),
        (rewrite(MANIFEST, edit_row_count("usage_csv")), {f"usage_csv/{ROWS}"}, f"{CSV} has"),
    ],
    ids=["deleted JSON", "deleted CSV", "flipped byte", "edited JSON row count", "edited CSV row count"],
)
def test_a_tampered_week_fails_the_right_check_and_verify_names_it(
    archived, capsys: pytest.CaptureFixture[str], tamper, failing, named
) -> None:
    defs, store = archived
    assert failing_checks(defs) == set()
    code, out, _ = cli(capsys, "verify", "--source", "circleci", "--period", WEEK)
    assert code == 0
    assert f"circleci/{WEEK}" in out and " OK" in out

    tamper(store)
    assert failing_checks(defs) == failing
    code, _, err = cli(capsys, "verify", "--source", "circleci", "--period", WEEK)
    assert code == 1
    assert f"MISMATCH {named}" in err
    code, out, err = cli(capsys, "verify", "--period", WEEK)  # a week, no source: both weekly sources
    assert code == 1
    assert f"MISMATCH {named}" in err


def test_the_manifest_lists_each_object_and_where_it_came_from(archived, usage_api: FakeUsageApi) -> None:
    _defs, store = archived
    manifest = json.loads(store.get_bytes(MANIFEST))
    assert manifest["source"] == "circleci" and manifest["organization_id"] == "org-a"
    assert manifest["period"] == {
        "week": WEEK,
        "start": f"{WEEK}T00:00:00Z",
        "end": f"{LAST_WEEK.end_day}T00:00:00Z",
    }
    csv_entry, json_entry = manifest["files"]
    csv_bytes = store.get_bytes(CSV)
    assert (csv_entry["path"], csv_entry["bytes"], csv_entry["s3_key"]) == (
        CSV,
        len(csv_bytes),
        f"{PREFIX}/{CSV}",
    )
    assert csv_entry["records"] == len(csv_bytes.decode().splitlines()) - 1
    assert json_entry["records"] == json.loads(store.get_bytes(JSON_KEY))["totals"]["jobs"]
    assert [j["usage_export_job_id"] for j in manifest["provenance"]["export_jobs"]] == list(usage_api.jobs)


def test_an_import_adds_to_the_manifest_and_the_json_refuses_a_changed_csv(archived, tmp_path: Path) -> None:
    _defs, store = archived
    extra = write_export(
        tmp_path / "late.csv", sample_rows(5, org_id="org-a", weeks=[LAST_WEEK.monday], seed=99)
    )
    store.put_file(circleci_incoming_key("late.csv"), extra)
    import_export(store, circleci_incoming_key("late.csv"), CircleCILayout(("org-a",)))
    manifest = json.loads(store.get_bytes(MANIFEST))
    assert [f["table"] for f in manifest["files"]] == ["usage_csv"]  # the JSON is not rebuilt yet
    assert len(manifest["provenance"]["export_jobs"]) == 1  # what the week came from before
    assert [i["file"] for i in manifest["provenance"]["imports"]] == ["late.csv"]
    assert store.head(CSV).bytes == manifest["files"][0]["bytes"]
    code = main(["verify", "--source", "circleci", "--period", WEEK])
    assert code == 1  # the earlier JSON is there but not listed until it is rebuilt

    archive_week_json(store, CircleCILayout(("org-a",)), "org-a", LAST_WEEK)
    assert [f["table"] for f in json.loads(store.get_bytes(MANIFEST))["files"]] == [
        "usage_csv",
        "usage_hierarchical_json",
    ]
    assert main(["verify", "--source", "circleci", "--period", WEEK]) == 0

    store.put_bytes(CSV, flip_a_byte(store.get_bytes(CSV)))  # changed behind the archive's back
    with pytest.raises(
        WeekManifestError, match=r"is not the CSV its manifest lists .* changed after it was archived"
    ):
        archive_week_json(store, CircleCILayout(("org-a",)), "org-a", LAST_WEEK)


def test_restore_and_fetch_a_week_in_glacier(
    archived, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _defs, store = archived
    for key in (CSV, JSON_KEY, MANIFEST):  # what the lifecycle does after 90 days (moto never applies it)
        store.put_bytes(key, store.get_bytes(key), storage_class="GLACIER")
    out_dir = tmp_path / "week"
    code, _, err = cli(capsys, "fetch", "--source", "circleci", "--period", WEEK, "--to", str(out_dir))
    assert code == 2
    assert "restore --source circleci --period" in err

    code, out, _ = cli(capsys, "restore", "--source", "circleci", "--period", WEEK, "--tier", "Bulk")
    assert code == 0
    assert f"requested 3 restore(s) for circleci/{WEEK}" in out
    code, out, _ = cli(capsys, "restore", "--source", "circleci", "--period", WEEK, "--status")
    assert code == 0
    assert f"circleci/{WEEK}: complete" in out
    assert f"usage-archive fetch --source circleci --period {WEEK}" in out

    code, out, err = cli(capsys, "fetch", "--source", "circleci", "--period", WEEK, "--to", str(out_dir))
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        k.rsplit("/", 1)[1] for k in (CSV, JSON_KEY, MANIFEST)
    )
    assert (out_dir / CSV.rsplit("/", 1)[1]).read_bytes() == store.get_bytes(CSV)


def test_verify_all_covers_every_source(archived, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "verify", "--all")
    assert code == 0
    assert f"circleci/{WEEK}" in out
    code, out, _ = cli(capsys, "verify", "--all", "--source", "github_actions")
    assert code == 1  # nothing archived for that source here
    code, _, err = cli(capsys, "verify", "--source", "billing", "--period", WEEK)
    assert code == 2
    assert "billing is archived by month" in err


def test_the_restore_sensor_and_the_verify_job_take_weeks(
    archived, moto_endpoint: str, s3_bucket: str
) -> None:
    from usage_archive.defs.ops.jobs import archive_verify_job
    from usage_archive.defs.ops.sensors import restore_completed
    from usage_archive.governance.restore import request_restores
    from usage_archive.governance.targets import ArchivedPeriod
    from usage_archive.resources.alerts import AlertWebhookResource
    from usage_archive.resources.archive_store import ArchiveStoreResource, S3ClientResource

    _defs, store = archived
    for key in (CSV, JSON_KEY, MANIFEST):
        store.put_bytes(key, store.get_bytes(key), storage_class="GLACIER")
    request_restores(store, ArchivedPeriod("circleci", LAST_WEEK))
    resource = ArchiveStoreResource(
        url=f"s3://{s3_bucket}/{PREFIX}",
        storage_class="STANDARD",
        s3=S3ClientResource(endpoint_url=moto_endpoint),
    )
    resources = {"archive_store": resource, "alert_webhook": AlertWebhookResource()}
    with dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), resources=resources) as context:
        requests = restore_completed(context)
    config = {"period": WEEK, "source": "circleci", "org": ""}
    assert [r.run_config for r in requests] == [{"ops": {"verify_archive": {"config": config}}}]
    run = archive_verify_job.execute_in_process(
        run_config=requests[0].run_config, resources={"archive_store": resource}
    )
    assert run.success  # the restored week reads back in full

    store.delete(JSON_KEY)
    every_source = {"ops": {"verify_archive": {"config": {"all_months": True, "source": "all"}}}}
    for run_config in (requests[0].run_config, every_source):
        failed = archive_verify_job.execute_in_process(
            run_config=run_config, resources={"archive_store": resource}, raise_on_error=False
        )
        assert not failed.success
        assert (
            f"{JSON_KEY} is missing"
            in failed.failure_data_for_node("verify_archive").user_failure_data.description
        )
