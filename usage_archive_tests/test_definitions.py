"""The code location as a whole (what `usage_archive/definitions.py` loads) and the project root's local
Dagster instance (`dagster.yaml`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef  # what the CLI builds when DAGSTER_HOME is not set

from usage_archive.definitions import defs

PROJECT = Path(__file__).resolve().parents[1]


def test_every_source_and_the_ops_are_loaded_and_run_in_process() -> None:
    repository = defs.get_repository_def()
    assert {k.to_user_string().split("/")[0] for k in repository.asset_graph.get_all_asset_keys()} == {
        "billing",
        "circleci",
        "github_actions",
        "ci_costs",
    }
    jobs = {j.name for j in repository.get_all_jobs()}
    assert {
        "billing_archive_job",
        "circleci_weekly_usage",
        "circleci_import_export",
        "github_actions_weekly_job",
        "github_actions_billing_usage_job",
        "archive_verify_job",
    } <= jobs
    assert {s.name for s in repository.sensor_defs} >= {
        "circleci_incoming_exports",
        "circleci_automation",
        "ci_costs_automation",
        "alert_on_run_failure",
        "restore_completed",
    }
    assert set(defs.resources) >= {"archive_store", "billing_db", "circleci", "github", "alert_webhook"}
    # Every job, the implicit one behind `dagster asset materialize` included, runs its steps in one process.
    assert {repository.get_job(name).executor_def.name for name in jobs} == {dg.in_process_executor.name}


def test_loading_the_code_location_does_not_import_the_aws_integration() -> None:
    code = "import sys, usage_archive.definitions; print('dagster_aws' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_root_dagster_yaml_is_a_local_instance_that_needs_no_settings(tmp_path: Path) -> None:
    # As `dagster dev`, `dagster asset materialize` and `dg` read it from the project root without DAGSTER_HOME.
    with dg.DagsterInstance.from_ref(
        InstanceRef.from_dir(str(tmp_path), config_dir=str(PROJECT))
    ) as instance:
        assert not instance.telemetry_enabled
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": "usage_archive/database", "value": "billing", "limit": 1} in limits
        # Storage is Dagster's default, SQLite in the instance folder: nothing to configure.
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert Path(instance.root_directory) == tmp_path


@pytest.mark.cli
def test_dg_check_defs_passes() -> None:
    dg_cli = Path(sys.executable).with_name("dg")
    done = subprocess.run(
        [str(dg_cli), "check", "defs"], cwd=PROJECT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr
