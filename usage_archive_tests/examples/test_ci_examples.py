"""The CI entry points under examples/ci/: both files validate against their published schemas (check-jsonschema's
built-in copies, no network), run on the Dagster schedules' crons, and their materialize command lines, taken
from the YAML as they are, archive the newest complete month of the demo database and fail when a blocking check
fails. `usage-archive latest-partition` names the partitions they run."""

from __future__ import annotations

import csv
import gzip
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from usage_archive.cli import main
from usage_archive.defs.circleci.partitions import build_partitions, partition_key_for
from usage_archive.demo.billing_db import load_billing_rows, load_billing_schema
from usage_archive.periods import Month, Week
from usage_archive_tests.fakes.circleci_api import LAST_WEEK, FakeUsageApi

PROJECT = Path(__file__).resolve().parents[2]
GITHUB_WORKFLOW = PROJECT / "examples/ci/github-actions/usage-archive.yml"
CIRCLECI_CONFIG = PROJECT / "examples/ci/circleci/config.yml"
BIN = Path(sys.executable).parent
SOURCES = ("billing", "circleci", "github_actions")
# A proxy nobody listens on: anything check-jsonschema tried to download would fail.
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def github_command(source: str) -> str:
    step = next(s for s in load(GITHUB_WORKFLOW)["jobs"][source]["steps"] if s.get("id") == "materialize")
    return step["run"]


def circleci_command(source: str) -> str:
    steps = load(CIRCLECI_CONFIG)["jobs"][source]["steps"]
    return next(s["run"]["command"] for s in steps if isinstance(s, dict) and "dagster asset" in str(s))


def validate(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
        env={**os.environ, **NO_NETWORK},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("schema", "path", "break_it"),
    [
        ("vendor.github-workflows", GITHUB_WORKFLOW, ("runs-on: ubuntu-latest", "runs_on: ubuntu-latest")),
        ("vendor.circle-ci", CIRCLECI_CONFIG, ("version: 2.1", "version: 3")),
    ],
)
def test_the_files_validate_against_their_published_schemas(schema, path, break_it, tmp_path: Path) -> None:
    done = validate(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / path.name
    broken.write_text(path.read_text().replace(*break_it))
    assert validate(schema, broken).returncode == 1  # the schema does hold the file to something


def test_they_run_on_the_schedules_crons() -> None:
    import dagster as dg

    from usage_archive.definitions import defs

    def cron(name: str) -> str:
        schedule = defs.resolve_schedule_def(name)
        assert isinstance(schedule, dg.ScheduleDefinition) and schedule.execution_timezone in (None, "UTC")
        return str(schedule.cron_schedule)

    weekly, monthly = cron("circleci_weekly_usage_schedule"), cron("billing_monthly_archive")
    assert weekly == cron("github_actions_weekly") == "0 2 * * 1"
    assert monthly == "0 3 2 * *"
    workflow = load(GITHUB_WORKFLOW)
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert [c["cron"] for c in on["schedule"]] == [weekly, monthly]
    jobs = workflow["jobs"]
    assert f"'{monthly}'" in jobs["billing"]["if"]
    assert f"'{weekly}'" in jobs["circleci"]["if"] and f"'{weekly}'" in jobs["github_actions"]["if"]
    workflows = load(CIRCLECI_CONFIG)["workflows"]
    assert workflows["weekly-usage"]["triggers"][0]["schedule"]["cron"] == weekly
    assert workflows["monthly-billing"]["triggers"][0]["schedule"]["cron"] == monthly
    assert {next(iter(j)) for j in workflows["weekly-usage"]["jobs"]} == {"circleci", "github_actions"}
    assert [next(iter(j)) for j in workflows["monthly-billing"]["jobs"]] == ["billing"]


@pytest.mark.parametrize("source", SOURCES)
def test_both_files_run_the_same_command_for_the_latest_partition(source: str) -> None:
    command = github_command(source)
    assert command == circleci_command(source)
    assert f"usage-archive latest-partition {source}" in command
    assert "dagster asset materialize -m usage_archive.definitions --select" in command
    assert "date " not in command and "date(" not in command  # no date arithmetic in shell


def test_latest_partition_names_the_newest_complete_period(capsys, monkeypatch) -> None:
    def latest(*argv: str) -> list[str]:
        assert main(["latest-partition", *argv]) == 0
        return capsys.readouterr().out.split()

    assert latest("billing", "--today", "2026-12-02") == ["2026-11-01"]
    assert latest("billing", "--today", "2026-12-01") == ["2026-11-01"]
    assert latest("github_actions", "--today", "2026-11-23") == ["2026-11-16"]  # a Monday: last week
    assert latest("github_actions", "--today", "2026-11-22") == ["2026-11-09"]  # a Sunday: the week before
    assert latest("circleci", "--today", "2026-11-23") == ["2026-11-16"]
    assert latest("billing") == [Month.last_ended().key]
    assert latest("github_actions") == [Week.last_ended().key]
    # Several organisations: one org × week partition key per line, each one the assets know.
    monkeypatch.setenv("CIRCLECI_ORG_ID", "org-a,org-b")
    keys = latest("circleci", "--today", "2026-11-23")
    partitions = build_partitions(("org-a", "org-b"))
    week = Week.parse("2026-11-16")
    assert keys == [partition_key_for(org, week, partitions) for org in ("org-a", "org-b")]
    assert set(keys) <= set(partitions.get_partition_keys())
    monkeypatch.setenv("USAGE_ARCHIVE_START_WEEK", "2026-11-30")
    assert main(["latest-partition", "circleci", "--today", "2026-11-23"]) == 2
    assert "no week has ended since USAGE_ARCHIVE_START_WEEK" in capsys.readouterr().err


def run_step(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The step as the CI runs it: the project checked out and installed (its scripts on PATH), bash with -e and
    pipefail, no DAGSTER_HOME."""
    full = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    full.update(env, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
        cwd=PROJECT,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.cli
def test_the_billing_step_archives_the_last_month_of_the_demo_database(
    fresh_database: str, moto_endpoint: str, s3_bucket: str, s3_client, monkeypatch
) -> None:
    month = Month.last_ended()
    load_billing_schema(fresh_database)
    load_billing_rows(fresh_database, last_month=month.first_day, months=1, scale=200)
    done = run_step(
        github_command("billing"),
        {
            "BILLING_DATABASE_URL": fresh_database,
            "ARCHIVE_URL": f"s3://{s3_bucket}/ci",
            "AWS_ENDPOINT_URL": moto_endpoint,
            "ARCHIVE_OBJECT_LOCK_DAYS": "1",
        },
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    manifest_key = f"ci/billing-archive/{month:%Y}/{month:%m}/manifest.json"
    head = s3_client.head_object(Bucket=s3_bucket, Key=manifest_key)
    assert head["ObjectLockMode"] == "COMPLIANCE"  # locked at upload
    assert "Asset check 'checksum_matches_manifest' on 'billing/credits' passed" in output
    assert "postgresql://" not in output.replace(fresh_database.split("@")[-1], "")  # no URL with credentials
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    assert main(["--archive-url", f"s3://{s3_bucket}/ci", "verify", "--period", f"{month:%Y-%m}"]) == 0


def with_a_credit_that_is_not_a_number(part: bytes) -> bytes:
    rows = list(csv.reader(io.StringIO(gzip.decompress(part).decode())))
    rows[1][rows[0].index("TOTAL_CREDITS")] = "twelve"
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return gzip.compress(out.getvalue().encode())


@pytest.mark.cli
def test_the_step_fails_when_the_week_cannot_be_archived_exactly(
    moto_endpoint: str, s3_bucket: str, s3_client, tmp_path: Path
) -> None:
    from usage_archive_tests.fakes.circleci_api import gzip_parts

    with FakeUsageApi(parts=gzip_parts(tmp_path, 30, 1)) as api:
        api.parts[0] = with_a_credit_that_is_not_a_number(api.parts[0])
        api.progression = ("completed",)  # no poll wait (the resource's first interval is 15 s)
        done = run_step(
            circleci_command("circleci"),
            {
                "ARCHIVE_URL": f"s3://{s3_bucket}/ci",
                "AWS_ENDPOINT_URL": moto_endpoint,
                "CIRCLECI_TOKEN": api.token,
                "CIRCLECI_ORG_ID": "org-a",
                "CIRCLECI_API_URL": api.base_url,
            },
        )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    # The merge refuses the part by line before anything is stored (the CSV check would catch what reaches
    # the store; here nothing does), so the CI job fails and the archive is unchanged.
    assert "TOTAL_CREDITS" in output
    assert "twelve" in output
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="ci/").get("Contents", [])]
    assert f"ci/circleci-usage-data/usage-data-{LAST_WEEK.label}.csv" not in keys
    assert not [k for k in keys if k.endswith("-hierarchical.json")]
