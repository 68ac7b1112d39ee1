"""The real `dagster` CLI against real Postgres and the moto S3 server (slow: a handful of subprocess runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cli

PROJECT = Path(__file__).resolve().parents[3]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
IN_PROCESS = json.dumps({"execution": {"config": {"in_process": {}}}})


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DAGSTER, *args, "-m", "usage_archive.definitions"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def cli_env(billing_db: str, moto_endpoint: str, s3_bucket: str, tmp_path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "BILLING_DATABASE_URL": billing_db,
        "ARCHIVE_URL": f"s3://{s3_bucket}/ci",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }


def test_cli_materializes_a_month_then_fails_on_a_tampered_archive(cli_env, s3_client, s3_bucket) -> None:
    done = _run(
        [
            "asset",
            "materialize",
            "--select",
            "group:billing",
            "--partition",
            "2026-09-01",
            "--config-json",
            IN_PROCESS,
        ],
        cli_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    prefix = "ci/billing-archive/2026/09/"
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["Contents"]}
    assert f"{prefix}manifest.json" in keys and len(keys) == 8

    # tamper three ways at once: a deleted object, changed bytes, an edited manifest count
    s3_client.delete_object(Bucket=s3_bucket, Key=f"{prefix}credits-2026-09.parquet")
    s3_client.put_object(
        Bucket=s3_bucket, Key=f"{prefix}charges-2026-09.parquet", Body=b"PAR1 not parquet PAR1"
    )
    manifest = json.loads(s3_client.get_object(Bucket=s3_bucket, Key=f"{prefix}manifest.json")["Body"].read())
    manifest["files"][5]["records"] += 7
    s3_client.put_object(Bucket=s3_bucket, Key=f"{prefix}manifest.json", Body=json.dumps(manifest).encode())

    run_config = Path(cli_env["DAGSTER_HOME"]) / "in_process.json"
    run_config.write_text(IN_PROCESS)
    verify = _run(
        [
            "job",
            "execute",
            "-j",
            "billing_archive_verify",
            "--tags",
            json.dumps({"dagster/partition": "2026-09-01"}),
            "--config",
            str(run_config),
        ],
        cli_env,
    )
    assert verify.returncode != 0
    output = verify.stdout + verify.stderr
    assert "credits-2026-09.parquet is missing" in output
    assert "charges-2026-09.parquet holds" in output
    assert "the manifest says 607" in output or "manifest says 607" in output


def test_cli_backfills_a_range_of_months(cli_env, s3_client, s3_bucket) -> None:
    done = _run(
        [
            "asset",
            "materialize",
            "--select",
            "group:billing",
            "--partition-range",
            "2026-08-01...2026-09-01",
            "--config-json",
            IN_PROCESS,
        ],
        cli_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for month in ("08", "09"):
        body = s3_client.get_object(Bucket=s3_bucket, Key=f"ci/billing-archive/2026/{month}/manifest.json")[
            "Body"
        ]
        assert json.loads(body.read())["period"] == f"2026-{month}"
