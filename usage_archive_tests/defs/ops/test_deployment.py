"""The deployment's dagster.yaml, loaded for real: storage in Postgres, and one billing export at a time.

DAGSTER_HOME is a temporary folder holding a copy of the project's dagster.yaml; the DAGSTER_PG_* variables
point at a fresh database of the test Postgres server.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import psycopg2
import pytest

from usage_archive.defs.ops.jobs import bucket_check_job
from usage_archive.resources.archive_store import ArchiveStoreResource

PROJECT_ROOT = Path(__file__).resolve().parents[3]
BILLING_TAG = {"usage_archive/database": "billing"}


@pytest.fixture
def deployed_instance(
    fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    url = urlparse(fresh_database)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_HOST", url.hostname or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_USER", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_PG_DB", url.path.lstrip("/"))
    with dg.DagsterInstance.get() as instance:
        yield instance


def test_runs_and_events_are_stored_in_postgres(
    deployed_instance: dg.DagsterInstance, fresh_database: str, tmp_path: Path
) -> None:
    result = bucket_check_job.execute_in_process(
        instance=deployed_instance,
        resources={"archive_store": ArchiveStoreResource(url=str(tmp_path / "archive"))},
    )
    assert result.success
    with psycopg2.connect(fresh_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT pipeline_name, status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchone() == ("bucket_check_job", "SUCCESS")
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchone()[0] > 5
    conn.close()
    assert deployed_instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS


def test_run_queue_lets_one_billing_export_run_at_a_time(deployed_instance: dg.DagsterInstance) -> None:
    # The queue's own selection logic (what the daemon does each tick), on runs stored in Postgres.
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    assert isinstance(deployed_instance.run_coordinator, QueuedRunCoordinator)
    queue = deployed_instance.get_concurrency_config().run_queue_config
    assert any(
        limit["key"] == "usage_archive/database" and limit.get("value") == "billing" and limit["limit"] == 1
        for limit in queue.tag_concurrency_limits
    )

    from dagster._core.remote_origin import (
        InProcessCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    # where the webserver would have submitted the runs from: this code location
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=InProcessCodeLocationOrigin(
                LoadableTargetOrigin(module_name="usage_archive.definitions"), location_name="usage_archive"
            ),
            repository_name="__repository__",
        ),
        job_name=bucket_check_job.name,
    )

    def queued(tags: dict[str, str]) -> str:
        run = deployed_instance.create_run_for_job(
            bucket_check_job, tags=tags, status=dg.DagsterRunStatus.QUEUED, remote_job_origin=origin
        )
        return run.run_id

    billing = [queued({**BILLING_TAG, "dagster/partition": month}) for month in ("2025-01-01", "2025-02-01")]
    other = queued({"usage_archive/area": "governance"})
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)

    def dequeued() -> set[str]:
        config = deployed_instance.get_concurrency_config()
        return {
            r.run_id
            for r in daemon._get_runs_to_dequeue(deployed_instance, config, fixed_iteration_time=None)
        }

    picked = dequeued()
    assert other in picked and len(picked & set(billing)) == 1  # two billing months queued, one may start

    deployed_instance.create_run_for_job(
        bucket_check_job, tags=BILLING_TAG, status=dg.DagsterRunStatus.STARTED
    )
    picked = dequeued()
    assert other in picked and not picked & set(billing)  # a billing export in progress: the others wait
