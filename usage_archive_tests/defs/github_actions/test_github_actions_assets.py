"""The asset, checks and schedule, materialized in-process against the fake GitHub API and real stores."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from dagster_aws.s3 import S3Resource

from usage_archive.defs.github_actions.assets import workflow_runs
from usage_archive.defs.github_actions.checks import (
    github_actions_verify_job,
    github_actions_workflow_runs_integrity,
)
from usage_archive.github_actions.archive_file import read_archive
from usage_archive.github_actions.week import archive_key
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.github import GitHubResource
from usage_archive_tests.defs.github_actions.conftest import REPOSITORIES_YML, TOKEN, WEEK, github_resource
from usage_archive_tests.fakes.github_api import FakeGitHub

ASSETS = [workflow_runs, github_actions_workflow_runs_integrity]


def materialize(
    store: ArchiveStoreResource,
    github: FakeGitHub,
    repositories_file: Path,
    instance: dg.DagsterInstance | None = None,
    **kwargs: object,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        partition_key=WEEK,
        raise_on_error=False,
        instance=instance,
        resources={"archive_store": store, "github": github_resource(github, repositories_file, **kwargs)},
    )


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = result.asset_materializations_for_node("github_actions__workflow_runs")
    return {k: v.value for k, v in event.metadata.items()}


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_week_into_s3_with_metrics_and_passing_checks(
    github: FakeGitHub, repositories_file: Path, moto_endpoint: str, s3_bucket: str, s3_client
) -> None:
    store = ArchiveStoreResource(url=f"s3://{s3_bucket}/archive", s3=S3Resource(endpoint_url=moto_endpoint))
    result = materialize(store, github, repositories_file)
    assert result.success

    body = s3_client.get_object(Bucket=s3_bucket, Key=f"archive/{archive_key(WEEK)}")["Body"].read()
    table, info = read_archive(body)
    rows = {r["job_id"]: r for r in table.to_pylist()}
    assert sorted(rows) == [1001, 1002, 1003, 1004, 2001]  # job 1000 belongs to a run of the week before
    assert (rows[1001]["run_attempt"], rows[1002]["run_attempt"]) == (1, 2)
    assert [rows[j]["billable_minutes"] for j in sorted(rows)] == [2, 1, 4, 10, 0]
    assert [rows[j]["minute_multiplier"] for j in sorted(rows)] == [1, 1, 2, 10, None]
    assert rows[2001]["team"] == "labs" and rows[1004]["team"] == "platform"
    assert rows[1001]["started_at"] == datetime(2026, 1, 5, 10, 0, 5, tzinfo=timezone.utc)
    assert info["repositories"]["octo/api"]["runs"][2] == [103, 1, 1, 0]  # the run without jobs is listed
    assert pq.read_schema(io.BytesIO(body)).field("completed_at").type == pa.timestamp("us", tz="UTC")
    assert not [
        o for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", []) if ".progress" in o["Key"]
    ]  # progress is gone once the week is stored

    metadata = metadata_of(result)
    assert (metadata["runs"], metadata["jobs"], metadata["billable_minutes"]) == (4, 5, 17)
    assert (metadata["billable_minutes/platform"], metadata["billable_minutes/labs"]) == (17, 0)
    assert "| octo/api | 17 |" in metadata["minutes_by_repository"]
    slowest = metadata["slowest_workflows"].split("\n")[2:]
    assert [line.split(" | ")[1] for line in slowest] == ["Build", "Nightly", "CI"]
    assert metadata["inactive_workflows"] == [
        {"repository": "octo/api", "workflow": "Release", "path": ".github/workflows/release.yml"}
    ]
    assert all(e.passed for e in check_results(result).values())
    assert set(check_results(result)) == {"every_run_has_its_jobs", "no_duplicate_job_attempts"}
    assert not github.paths("/timing")


def test_a_retried_run_resumes_after_a_404(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource
) -> None:
    repositories_file.write_text(
        REPOSITORIES_YML.replace("organizations:", "  - octo/zz-private\norganizations:")
    )
    failed = materialize(local_store, github, repositories_file)
    assert not failed.success
    failure = failed.failure_data_for_node("github_actions__workflow_runs").error.message
    assert "repository octo/zz-private: 404 Not Found" in failure
    store = local_store.get_store()
    assert not store.exists(archive_key(WEEK))  # nothing half-written
    progress = sorted(o.key for o in store.list("github-actions-usage/.progress/"))
    assert progress == [
        "github-actions-usage/.progress/2026-01-05/done/octo-labs/tool.parquet",
        "github-actions-usage/.progress/2026-01-05/done/octo/api.parquet",
    ]

    github.repository("octo/zz-private")  # access granted
    github.requests.clear()
    retried = materialize(local_store, github, repositories_file)
    assert retried.success
    assert github.paths("/repos/") == [
        "/repos/octo/zz-private/actions/workflows",
        "/repos/octo/zz-private/actions/runs",
    ]
    assert metadata_of(retried)["resumed_repositories"] == ["octo-labs/tool", "octo/api"]
    assert metadata_of(retried)["jobs"] == 5
    assert list(store.list("github-actions-usage/.progress/")) == []


def test_failures_are_clear_and_never_show_the_token(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource, tmp_path: Path, capsys
) -> None:
    wrong = "ghp_this_is_a_secret_that_must_not_leak"
    cases = [
        ({"token": None}, repositories_file, "GITHUB_TOKEN is not set"),
        ({"token": wrong}, repositories_file, "GITHUB_TOKEN is invalid or expired (401 'Bad credentials'"),
        ({}, tmp_path / "nowhere.yml", "USAGE_ARCHIVE_REPOSITORIES"),
    ]
    for kwargs, path, expected in cases:
        result = materialize(local_store, github, path, **kwargs)
        assert not result.success
        assert expected in result.failure_data_for_node("github_actions__workflow_runs").error.message
        for event in result.all_events:
            assert wrong not in str(event) and TOKEN not in str(event)
    assert not local_store.get_store().exists(archive_key(WEEK))

    ok = materialize(local_store, github, repositories_file)
    assert ok.success
    assert all(TOKEN not in str(event) for event in ok.all_events)
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err and wrong not in captured.out + captured.err


def _tamper(store: ArchiveStoreResource, change) -> None:
    """Rewrite the stored week through `change(table)`, keeping its footer, as a corrupting writer would."""
    archive = store.get_store()
    table, _info = read_archive(archive.get_bytes(archive_key(WEEK)))
    sink = io.BytesIO()
    pq.write_table(change(table).replace_schema_metadata(table.schema.metadata), sink)
    archive.put_bytes(archive_key(WEEK), sink.getvalue())


def _verify(store: ArchiveStoreResource, instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    """The verify job: only the checks, on what is stored, for the week's partition. Blocking checks: the run
    fails exactly when a check fails."""
    # Only this source's definitions: the test does not depend on the other sources loading.
    defs = dg.Definitions(
        assets=[workflow_runs],
        asset_checks=[github_actions_workflow_runs_integrity],
        jobs=[github_actions_verify_job],
        resources={"archive_store": store, "github": GitHubResource()},
    )
    result = defs.resolve_job_def("github_actions_verify").execute_in_process(
        instance=instance, tags={"dagster/partition": WEEK}, raise_on_error=False
    )
    checks = check_results(result)
    assert result.success == all(e.passed for e in checks.values())
    return checks


def test_checks_fail_on_a_dropped_run_and_a_duplicated_attempt(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert materialize(local_store, github, repositories_file, instance).success
    assert all(e.passed for e in _verify(local_store, instance).values())

    _tamper(local_store, lambda t: t.filter(pa.compute.not_equal(t.column("run_id"), 102)))
    checks = _verify(local_store, instance)
    assert not checks["every_run_has_its_jobs"].passed
    assert "octo/api run 102: 0 job rows, GitHub reported 1" in checks["every_run_has_its_jobs"].description
    assert (
        "the materialization reported 5 jobs, the file holds 4"
        in checks["every_run_has_its_jobs"].description
    )
    assert checks["no_duplicate_job_attempts"].passed

    assert materialize(local_store, github, repositories_file, instance).success
    _tamper(local_store, lambda t: pa.concat_tables([t, t.slice(0, 1)]))
    checks = _verify(local_store, instance)
    assert not checks["no_duplicate_job_attempts"].passed
    assert (
        "job 2001 stored 2 times (run 201 attempt 1, run 201 attempt 1)"
        in checks["no_duplicate_job_attempts"].description
    )


def test_a_run_whose_jobs_do_not_all_list_fails_before_anything_is_stored(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource
) -> None:
    # GitHub counts a job for run 101 that its listing never returns: the run fails, nothing is stored.
    github.repository("octo/api").jobs[101].append(dict(github.repository("octo/api").jobs[101][0], id=1001))
    result = materialize(local_store, github, repositories_file)
    assert not result.success
    assert (
        "run 101: GitHub reported 4 jobs but listed 3"
        in result.failure_data_for_node("github_actions__workflow_runs").error.message
    )
    assert all(s.blocking for s in github_actions_workflow_runs_integrity.check_specs)
    assert not local_store.get_store().exists(archive_key(WEEK))


def test_rate_limit_waits_use_the_resource_clock(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource
) -> None:
    github.secondary = [(429, 3)]
    github.set_rate_limit(limit=4, window_seconds=4)
    result = materialize(local_store, github, repositories_file)
    assert result.success
    assert github.clock.sleeps[0] == 3 and len(github.clock.sleeps) >= 2  # waits went through the fake clock
