"""The real `dagster job execute` on the whole code location, configured only by environment variables, as CI
or an operator would run it: the verify job finds a corrupted object in the moto bucket and exits non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from usage_archive_tests.governance.archive_fixtures import PERIOD, ArchivedMonths


@pytest.mark.cli
def test_dagster_cli_verify_job_fails_on_a_corrupted_month(
    archived: ArchivedMonths, moto_endpoint: str, tmp_path: Path
) -> None:
    key = next(k for k in archived.file_keys() if "credits" in k)
    data = bytearray(archived.store.get_bytes(key))
    data[len(data) // 2] ^= 0x04
    archived.store.put_bytes(key, bytes(data))
    (tmp_path / "run.yaml").write_text(f"ops:\n  verify_archive:\n    config:\n      period: '{PERIOD}'\n")
    env = {
        **os.environ,
        "ARCHIVE_URL": f"s3://{archived.bucket}/prod",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "DAGSTER_HOME": str(tmp_path),
        "ARCHIVE_STORAGE_CLASS": "STANDARD",
    }
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [
            str(dagster),
            "job",
            "execute",
            "-m",
            "usage_archive.definitions",
            "-j",
            "archive_verify_job",
            "-c",
            str(tmp_path / "run.yaml"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert "1 mismatch(es)" in output and key in output, output[-3000:]
    assert "SHA-256" in output
