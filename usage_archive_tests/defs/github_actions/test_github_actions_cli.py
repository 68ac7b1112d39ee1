"""The real `dagster asset materialize` CLI over a two-week partition range, against the fake API and moto S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from usage_archive.github_actions.archive_file import read_archive
from usage_archive.github_actions.week import archive_key
from usage_archive_tests.defs.github_actions.conftest import REPOSITORIES_YML, TOKEN, populate
from usage_archive_tests.fakes.github_api import FakeGitHub

pytestmark = pytest.mark.cli

PROJECT = Path(__file__).resolve().parents[3]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
IN_PROCESS = json.dumps({"execution": {"config": {"in_process": {}}}})


@pytest.fixture
def served() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, prefix="/api/v3") as fake:  # GitHub Enterprise Server style base URL
        populate(fake)
        yield fake


def test_cli_materializes_a_partition_range_and_checks_it(
    served: FakeGitHub, moto_endpoint: str, s3_bucket: str, s3_client, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    repositories = tmp_path / "repositories.yml"
    repositories.write_text(REPOSITORIES_YML)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ARCHIVE_URL": f"s3://{s3_bucket}/ci",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": served.api_url,
        "USAGE_ARCHIVE_REPOSITORIES": str(repositories),
    }
    done = subprocess.run(
        [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "usage_archive.definitions",
            "--select",
            "group:github_actions",
            "--partition-range",
            "2025-12-29...2026-01-05",
            "--config-json",
            IN_PROCESS,
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert TOKEN not in done.stdout + done.stderr

    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="ci/")["Contents"]}
    assert keys == {f"ci/{archive_key('2025-12-29')}", f"ci/{archive_key('2026-01-05')}"}
    earlier, _ = read_archive(
        s3_client.get_object(Bucket=s3_bucket, Key=f"ci/{archive_key('2025-12-29')}")["Body"].read()
    )
    later, _ = read_archive(
        s3_client.get_object(Bucket=s3_bucket, Key=f"ci/{archive_key('2026-01-05')}")["Body"].read()
    )
    assert earlier.column("job_id").to_pylist() == [1000]  # the run one second before 2026-01-05
    assert later.num_rows == 5
    for check in ("every_run_has_its_jobs", "no_duplicate_job_attempts"):
        assert f"Asset check '{check}' on 'github_actions/workflow_runs' passed" in done.stderr
    assert all(p.startswith("/api/v3/") for p in served.paths())
