from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.github import GitHubResource
from usage_archive_tests.fakes.github_api import FakeGitHub, make_job, make_run

UTC = timezone.utc
WEEK = "2026-01-05"
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)
TOKEN = "ghp_fake_token_0123456789"
REPOSITORIES_YML = """\
repositories:
  - repository: octo/api
    team: platform
organizations:
  - organization: octo-labs
    team: labs
"""


def populate(github: FakeGitHub) -> None:
    """Two repositories (one through its organisation) with re-runs, a run without jobs, Windows, macOS and a
    self-hosted runner, and one run just before the week."""
    api = github.repository("octo/api")
    api.workflows = [
        {"id": 1, "name": "CI", "path": ".github/workflows/ci.yml", "state": "active"},
        {"id": 2, "name": "Nightly", "path": ".github/workflows/nightly.yml", "state": "active"},
        {"id": 3, "name": "Release", "path": ".github/workflows/release.yml", "state": "active"},
        {"id": 4, "name": "Old", "path": ".github/workflows/old.yml", "state": "disabled_manually"},
    ]
    ci = make_run(101, MONDAY + timedelta(hours=10), run_attempt=2, repository="octo/api")
    api.add_run(
        ci,
        [
            make_job(1001, ci, attempt=1, run_seconds=61),
            make_job(1002, ci, attempt=2, run_seconds=30),
            make_job(1003, ci, attempt=2, run_seconds=200, labels=["windows-latest"], name="test"),
        ],
    )
    nightly = make_run(
        102,
        MONDAY + timedelta(days=1),
        workflow_id=2,
        name="Nightly",
        path=".github/workflows/nightly.yml",
        event="schedule",
        repository="octo/api",
    )
    api.add_run(nightly, [make_job(1004, nightly, run_seconds=600, labels=["macos-14"])])
    broken = make_run(103, MONDAY + timedelta(days=2), conclusion="startup_failure", repository="octo/api")
    api.add_run(broken, [])
    before = make_run(100, MONDAY - timedelta(seconds=1), repository="octo/api")
    api.add_run(before, [make_job(1000, before)])

    github.organizations["octo-labs"] = ["octo-labs/tool"]
    tool = github.repository("octo-labs/tool")
    tool.workflows = [{"id": 7, "name": "Build", "path": ".github/workflows/build.yml", "state": "active"}]
    build = make_run(
        201,
        MONDAY + timedelta(days=6, hours=23, minutes=59, seconds=59),
        workflow_id=7,
        name="Build",
        path=".github/workflows/build.yml",
        repository="octo-labs/tool",
    )
    tool.add_run(
        build,
        [make_job(2001, build, run_seconds=900, labels=["self-hosted", "linux"], runner_group="Default")],
    )


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as fake:
        populate(fake)
        yield fake


@pytest.fixture
def repositories_file(tmp_path: Path) -> Path:
    path = tmp_path / "repositories.yml"
    path.write_text(REPOSITORIES_YML)
    return path


def github_resource(
    github: FakeGitHub, repositories_file: Path, token: str | None = TOKEN
) -> dg.ResourceDefinition:
    """The resource with the fake server's clock; hardcoded, so Dagster does not rebuild it from config."""
    resource = GitHubResource(
        token=token,
        api_url=github.api_url,
        repositories_file=str(repositories_file),
        max_rate_limit_wait_seconds=5,
    ).with_clock(github.clock.sleep, github.clock.time)
    return dg.ResourceDefinition.hardcoded_resource(resource)


@pytest.fixture
def local_store(tmp_path: Path) -> ArchiveStoreResource:
    return ArchiveStoreResource(url=str(tmp_path / "archive"))
