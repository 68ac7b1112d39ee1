"""A GitHub Actions week against its manifest: tampered with after it was archived (object deleted, one byte
flipped, the manifest's row count edited), the right blocking check fails and `usage-archive verify` exits 1
naming the problem; fetch downloads a week verified."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from usage_archive.archive.layout import github_workflow_runs_key, github_workflow_runs_manifest_key
from usage_archive.archive.store import LocalArchiveStore
from usage_archive.cli import main
from usage_archive.dagster_helpers import CHECKSUM_MATCHES_MANIFEST, ROW_COUNT_MATCHES_MANIFEST
from usage_archive.defs.github_actions.assets import workflow_runs
from usage_archive.defs.github_actions.checks import (
    EVERY_RUN_HAS_ITS_JOBS,
    NO_DUPLICATE_JOB_ATTEMPTS,
    github_actions_verify_job,
    github_actions_workflow_runs_integrity,
)
from usage_archive.periods import Week
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive_tests.defs.github_actions.conftest import WEEK, github_resource
from usage_archive_tests.fakes.github_api import FakeGitHub

RUNS_KEY = github_workflow_runs_key(Week.parse(WEEK))
MANIFEST_KEY = github_workflow_runs_manifest_key(Week.parse(WEEK))
EVERY_CHECK = (
    EVERY_RUN_HAS_ITS_JOBS,
    NO_DUPLICATE_JOB_ATTEMPTS,
    ROW_COUNT_MATCHES_MANIFEST,
    CHECKSUM_MATCHES_MANIFEST,
)


def flip_a_byte(data: bytes) -> bytes:
    """One character of a workflow name in the file's footer: the file still reads, with the same rows."""
    at = data.index(b"Release") + 1
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def edit_row_count(data: bytes) -> bytes:
    manifest = json.loads(data)
    manifest["files"][0]["records"] += 1
    return json.dumps(manifest).encode()


@pytest.fixture
def archived_week(github: FakeGitHub, repositories_file: Path, tmp_path: Path) -> dg.Definitions:
    resources = {
        "archive_store": ArchiveStoreResource(url=str(tmp_path / "archive")),
        "github": github_resource(github, repositories_file),
    }
    assets = [workflow_runs, github_actions_workflow_runs_integrity]
    assert dg.materialize(assets, partition_key=WEEK, resources=resources).success
    return dg.Definitions(
        assets=[workflow_runs],
        asset_checks=[github_actions_workflow_runs_integrity],
        jobs=[github_actions_verify_job],
        resources=resources,
    )


def checks_after(defs: dg.Definitions) -> dict[str, bool]:
    job = defs.resolve_job_def("github_actions_verify")
    result = job.execute_in_process(tags={"dagster/partition": WEEK}, raise_on_error=False)
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def verify(capsys: pytest.CaptureFixture[str], archive: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--archive-url", str(archive), "verify", "--source", "github_actions", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("tamper", "failing", "named"),
    [
        (lambda store: store.delete(RUNS_KEY), set(EVERY_CHECK), f"{RUNS_KEY} is missing from the archive"),
        (
            lambda store: store.put_bytes(RUNS_KEY, flip_a_byte(store.get_bytes(RUNS_KEY))),
            {CHECKSUM_MATCHES_MANIFEST},
            f"{RUNS_KEY} SHA-256",
        ),
        (
            lambda store: store.put_bytes(MANIFEST_KEY, edit_row_count(store.get_bytes(MANIFEST_KEY))),
            {ROW_COUNT_MATCHES_MANIFEST},
            f"{RUNS_KEY} has 5 job attempts, the manifest says 6",
        ),
    ],
    ids=["deleted object", "flipped byte", "edited row count"],
)
def test_a_tampered_week_fails_the_right_check_and_verify_names_it(
    archived_week: dg.Definitions, tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper, failing, named
) -> None:
    archive = tmp_path / "archive"
    assert all(checks_after(archived_week).values())
    code, out, _ = verify(capsys, archive, "--period", WEEK)
    assert code == 0
    assert f"OK                           {RUNS_KEY}  rows=5" in out

    tamper(LocalArchiveStore(archive))
    results = checks_after(archived_week)
    assert {name for name, passed in results.items() if not passed} == failing
    code, _, err = verify(capsys, archive, "--period", WEEK)
    assert code == 1
    assert f"MISMATCH {named}" in err
    code, out, _ = verify(capsys, archive, "--all")  # --all finds it too
    assert code == 1
    assert f"github_actions/{WEEK}" in out and "MISMATCH" in out


def test_a_week_without_manifest_fails_both_checks_and_verify(
    archived_week: dg.Definitions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    LocalArchiveStore(tmp_path / "archive").delete(MANIFEST_KEY)  # a run that died before writing it
    results = checks_after(archived_week)
    assert (results[ROW_COUNT_MATCHES_MANIFEST], results[CHECKSUM_MATCHES_MANIFEST]) == (False, False)
    code, out, err = verify(capsys, tmp_path / "archive", "--period", WEEK[:7])  # a month: its weeks
    assert code == 1
    assert "NO MANIFEST" in out
    assert f"no manifest at {tmp_path / 'archive' / MANIFEST_KEY}" in err


def test_fetch_a_week_verified(archived_week: dg.Definitions, tmp_path: Path, capsys) -> None:
    archive, out_dir = tmp_path / "archive", tmp_path / "out"
    code = main(
        [
            "--archive-url",
            str(archive),
            "fetch",
            "--source",
            "github_actions",
            "--period",
            WEEK,
            "--to",
            str(out_dir),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"github_actions/{WEEK}: 1 files, 5 rows" in out
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        [RUNS_KEY.rsplit("/", 1)[1], MANIFEST_KEY.rsplit("/", 1)[1]]
    )
