"""Session-wide real services: a fresh PostgreSQL database (dropped afterwards) and a moto S3 server on
127.0.0.1. Nothing is skipped silently: without a PostgreSQL the session stops with what to install."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import boto3
import pytest

from usage_archive.devtools.local_postgres import LocalPostgres, PostgresUnavailable, find_or_start

# Tests configure what they use; the developer's own settings must not leak in.
for _name in ("ARCHIVE_URL", "BILLING_DATABASE_URL", "AWS_ENDPOINT_URL", "AWS_PROFILE", "DAGSTER_HOME"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    try:
        server = find_or_start()
    except PostgresUnavailable as exc:
        pytest.exit(f"PostgreSQL is required for the tests: {exc}", returncode=3)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def session_database(postgres: LocalPostgres) -> Iterator[str]:
    """A database created for this test session and dropped at its end."""
    name = f"usage_archive_test_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


@pytest.fixture
def fresh_database(postgres: LocalPostgres) -> Iterator[str]:
    """An empty database of its own for one test."""
    name = f"usage_archive_t_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_client(moto_endpoint: str):
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def s3_bucket(s3_client) -> str:
    """A new, empty, versioned bucket with Object Lock for one test."""
    name = f"archive-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name
