"""The real `dagster asset materialize` CLI: the code location from the environment, the fake Usage API and
the moto S3 server (one subprocess run, slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from usage_archive_tests.fakes.circleci_api import LAST_WEEK

pytestmark = pytest.mark.cli

PROJECT = Path(__file__).resolve().parents[3]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
IN_PROCESS = json.dumps({"execution": {"config": {"in_process": {}}}})


def test_cli_archives_last_week_with_checks(usage_api, moto_endpoint, s3_bucket, s3_client, tmp_path) -> None:
    usage_api.progression = ("processing", "completed")  # one poll: the resource's default interval is 15 s
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ARCHIVE_URL": f"s3://{s3_bucket}/ci",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "CIRCLECI_TOKEN": usage_api.token,
        "CIRCLECI_ORG_ID": "org-a",
        "CIRCLECI_API_URL": usage_api.base_url,
    }
    week = f"{LAST_WEEK:%Y-%m-%d}"
    done = subprocess.run(
        [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "usage_archive.definitions",
            "--select",
            "circleci/usage_csv,circleci/usage_hierarchical_json",
            "--partition",
            week,
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
    keys = {
        o["Key"]
        for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="ci/circleci-usage-data/")["Contents"]
    }
    assert len(keys) == 2 and all(week in k for k in keys)
    output = done.stdout + done.stderr
    assert "job_count_matches_csv" in output and usage_api.token not in output and "s3cr3t" not in output
