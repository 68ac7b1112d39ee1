"""`usage-archive` bucket / iam-policy / verify / restore / fetch, driven like an operator would, against the moto
S3 server (AWS_ENDPOINT_URL) and a month archived from real Postgres."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from usage_archive.archive.store import LocalArchiveStore
from usage_archive.cli import main
from usage_archive_tests.governance.archive_fixtures import (
    PERIOD,
    ArchivedMonths,
    archive,
    archived,
    create_billing_tables,
    s3_store,
)

__all__ = ["archived", "s3_store"]  # the shared fixtures, used here through operator_env


@pytest.fixture
def operator_env(
    archived: ArchivedMonths, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> ArchivedMonths:
    monkeypatch.setenv("ARCHIVE_URL", f"s3://{archived.bucket}/prod")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("ARCHIVE_OBJECT_LOCK_DAYS", "1")
    return archived


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_bucket_check_and_apply(operator_env: ArchivedMonths, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bucket", "check")
    assert code == 0 and "in sync" in out

    rules = operator_env.client.get_bucket_lifecycle_configuration(Bucket=operator_env.bucket)["Rules"]
    for rule in rules:
        if rule["ID"] == "circleci-usage-tiering":
            rule["Transitions"] = [{"Days": 30, "StorageClass": "GLACIER"}]
    operator_env.client.put_bucket_lifecycle_configuration(
        Bucket=operator_env.bucket, LifecycleConfiguration={"Rules": rules}
    )
    code, out, err = run(capsys, "bucket", "check")
    assert code == 1
    assert (
        "DRIFT lifecycle[circleci-usage-tiering].Transitions: expected [(90, 'GLACIER')], found [(30, 'GLACIER')]"
        in out
    )
    assert "usage-archive bucket apply" in err

    code, out, _ = run(capsys, "bucket", "apply")
    assert code == 0 and "applied lifecycle" in out
    assert run(capsys, "bucket", "check")[0] == 0


def test_bucket_apply_refuses_invalid_lifecycle(
    operator_env: ArchivedMonths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVE_BILLING_EXPIRE_DAYS", "400")
    code, _, err = run(capsys, "bucket", "apply")
    assert code == 2
    assert "objects would expire 35 days after moving to DEEP_ARCHIVE, before its 180-day minimum" in err
    assert "nothing was changed" in err


def test_iam_policy_from_archive_url(
    operator_env: ArchivedMonths, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "iam-policy", "--role", "archiver")
    policy = json.loads(out)
    assert (
        code == 0
        and policy["Statement"][0]["Resource"][0]
        == f"arn:aws:s3:::{operator_env.bucket}/prod/billing-archive/*"
    )


def test_verify_a_month_and_all_months(
    operator_env: ArchivedMonths, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "verify", "--period", PERIOD)
    assert code == 0 and "credits-2025-01.parquet" in out and "rows=5" in out

    key = next(k for k in operator_env.file_keys("2025-02") if "credits" in k)
    data = bytearray(operator_env.store.get_bytes(key))
    data[len(data) // 2] ^= 0x01
    operator_env.store.put_bytes(key, bytes(data))
    code, out, err = run(capsys, "verify", "--all")
    assert code == 1
    lines = out.splitlines()
    assert lines[2].startswith("2025-01") and lines[2].rstrip().endswith("OK")
    assert lines[3].startswith("2025-02") and "MISMATCH" in lines[3]
    assert f"MISMATCH {key} SHA-256" in err

    code, out, _ = run(capsys, "verify", "--all", "--json")
    assert code == 1 and [m["status"] for m in json.loads(out)] == ["OK", "MISMATCH"]
    code, _, err = run(capsys, "verify", "--period", "2025-13")
    assert code == 2 and "'2025-13' is not a month" in err


def test_restore_status_and_fetch_a_deep_archive_month(
    operator_env: ArchivedMonths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in operator_env.file_keys():
        operator_env.move_to(key, "DEEP_ARCHIVE")
    out_dir = tmp_path / "jan"

    code, _, err = run(capsys, "fetch", "--period", PERIOD, "--to", str(out_dir))
    assert code == 2 and "not restored" in err

    code, _, err = run(capsys, "restore", "--period", PERIOD, "--tier", "Expedited")
    assert code == 2 and "Expedited restores are not available for DEEP_ARCHIVE" in err

    code, out, _ = run(capsys, "restore", "--period", PERIOD, "--tier", "Bulk", "--days", "2")
    assert code == 0 and "requested 2 restore(s) for 2025-01 (Bulk" in out

    code, out, _ = run(capsys, "restore", "--period", PERIOD, "--status")
    assert code == 0 and "2025-01: complete" in out and "usage-archive fetch --period 2025-01" in out

    code, out, _ = run(capsys, "fetch", "--period", PERIOD, "--to", str(out_dir))
    assert code == 0 and "2025-01: 2 files, 7 rows" in out
    with duckdb.connect() as con:
        assert (
            con.execute(f"SELECT count(*), sum(amount) FROM '{out_dir}/credits-*.parquet'").fetchone()[0] == 5
        )
        assert con.execute(
            f"SELECT name FROM '{out_dir}/accounts-snapshot-*.parquet' ORDER BY id"
        ).fetchall() == [("ada",), ("grace",)]


def test_verify_and_fetch_a_local_archive(
    fresh_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_billing_tables(fresh_database)
    archive(LocalArchiveStore(tmp_path / "archive"), fresh_database, (PERIOD,))
    url = str(tmp_path / "archive")
    assert run(capsys, "--archive-url", url, "verify", "--all")[0] == 0
    code, out, _ = run(
        capsys, "--archive-url", url, "fetch", "--period", PERIOD, "--to", str(tmp_path / "out")
    )
    assert code == 0 and "query with DuckDB" in out
    code, _, err = run(capsys, "--archive-url", url, "restore", "--period", PERIOD)
    assert code == 2 and "local archive" in err

    (tmp_path / "archive" / "billing-archive" / "2025" / "01" / "credits-2025-01.parquet").write_bytes(
        b"PAR1 junk"
    )
    code, _, err = run(capsys, "--archive-url", url, "verify", "--period", PERIOD)
    assert code == 1 and "holds 9 bytes" in err and "not a readable Parquet file" in err


def test_bucket_commands_need_an_s3_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--archive-url", str(tmp_path), "bucket", "check")
    assert code == 2 and "is a local directory" in err


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("usage-archive")
    done = subprocess.run(
        [str(script), "iam-policy", "--bucket", "billing-archive-bucket", "--role", "restorer"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "s3:RestoreObject" in done.stdout
