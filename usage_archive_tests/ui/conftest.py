"""A real `dagster dev` on a demo instance for the UI tests: the demo billing database (fresh, dropped
afterwards), a local archive directory, the fake CircleCI Usage API and the fake GitHub API over HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from usage_archive.demo.billing_db import load_billing_rows, load_billing_schema
from usage_archive.devtools.local_postgres import LocalPostgres
from usage_archive.periods import Month
from usage_archive_tests.defs.github_actions.conftest import REPOSITORIES_YML, populate
from usage_archive_tests.defs.github_actions.conftest import TOKEN as GITHUB_TOKEN
from usage_archive_tests.fakes.circleci_api import FakeUsageApi, gzip_parts
from usage_archive_tests.fakes.github_api import FakeGitHub
from usage_archive_tests.ui.dagster_ui import DagsterDev, DagsterUI

pytestmark = pytest.mark.ui

DEMO_MONTHS = 4


@dataclass
class DemoInstance:
    """What a UI test needs to drive and observe the running `dagster dev`."""

    ui: DagsterUI
    archive: Path
    months: list[str]  # the demo database's months, oldest first
    circleci: FakeUsageApi
    github: FakeGitHub


@pytest.fixture(scope="session")
def demo_billing_database(postgres: LocalPostgres) -> Iterator[tuple[str, list[str]]]:
    """A demo billing database like `make demo`'s, with four months of rows."""
    name = f"usage_archive_ui_{os.getpid()}"
    url = postgres.create_database(name)
    last = Month.last_ended()
    load_billing_schema(url)
    load_billing_rows(url, last_month=last.first_day, months=DEMO_MONTHS, scale=2_000)
    first = last
    for _ in range(DEMO_MONTHS - 1):
        first = first.previous()
    yield url, [m.key for m in Month.range(first, last)]
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def start_demo_instance(demo_billing_database, tmp_path_factory) -> Iterator[Callable[..., DemoInstance]]:
    """Starts `dagster dev` on a fresh instance with the fakes; every instance started is stopped at the end."""
    started: list[tuple[DagsterDev, FakeUsageApi, FakeGitHub]] = []
    database_url, months = demo_billing_database

    def start(circleci_orgs: tuple[str, ...] = ("org-a",), export_org: str = "org-a") -> DemoInstance:
        root = tmp_path_factory.mktemp("ui")
        home = root / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        repositories = root / "repositories.yml"
        repositories.write_text(REPOSITORIES_YML)
        circleci = FakeUsageApi(
            org_ids=circleci_orgs,
            parts=gzip_parts(root, 120, 2, org_id=export_org),
            progression=("completed",),
        ).start()
        github = FakeGitHub(token=GITHUB_TOKEN).__enter__()
        populate(github)
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "ARCHIVE_URL": str(root / "archive"),
            "BILLING_DATABASE_URL": database_url,
            "CIRCLECI_TOKEN": circleci.token,
            "CIRCLECI_ORG_ID": ",".join(circleci_orgs),
            "CIRCLECI_API_URL": circleci.base_url,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GITHUB_API_URL": github.api_url,
            "USAGE_ARCHIVE_REPOSITORIES": str(repositories),
        }
        server = DagsterDev(env, log_path=root / "dagster-dev.log")
        started.append((server, circleci, github))
        ui = server.start()
        return DemoInstance(ui=ui, archive=root / "archive", months=months, circleci=circleci, github=github)

    yield start
    for server, circleci, github in started:
        server.stop()
        circleci.stop()
        github.__exit__(None, None, None)
