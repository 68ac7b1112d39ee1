"""Dagster wiring for the CircleCI tests: resources pointed at the fake Usage API and an archive store, and the
child-process run that the restart test kills."""

from __future__ import annotations

import dagster as dg

from usage_archive.defs.circleci.assets import usage_csv
from usage_archive.resources.archive_store import ArchiveStoreResource, S3ClientResource
from usage_archive.resources.circleci import CircleCIResource
from usage_archive_tests.fakes.circleci_api import FakeUsageApi


def usage_resources(
    api: FakeUsageApi, endpoint: str, bucket: str, prefix: str = "archive", **circleci: object
) -> dict[str, object]:
    """archive_store on the moto bucket and circleci on the fake API, with millisecond polling and retries."""
    settings = {
        "token": api.token,
        "org_ids": "org-a",
        "api_url": api.base_url,
        "poll_initial_seconds": 0.001,
        "poll_max_seconds": 0.005,
        "poll_deadline_seconds": 10,
        "rate_limit_wait_seconds": 0.001,
        "retry_backoff_seconds": 0.001,
        "status_checks_per_minute": 1000,  # millisecond polls; the limit has its own test (test_api.py)
        **circleci,
    }
    return {
        "archive_store": ArchiveStoreResource(
            url=f"s3://{bucket}/{prefix}", s3=S3ClientResource(endpoint_url=endpoint)
        ),
        "circleci": CircleCIResource(**settings),
    }


def materialize_usage_csv_in_child(
    archive_url: str, s3_endpoint: str, api_url: str, token: str, org_id: str, partition: str
) -> None:
    """Run in a separate process by the restart test (which kills it): materialize circleci/usage_csv."""
    dg.materialize(
        [usage_csv],
        partition_key=partition,
        resources={
            "archive_store": ArchiveStoreResource(
                url=archive_url, s3=S3ClientResource(endpoint_url=s3_endpoint)
            ),
            "circleci": CircleCIResource(
                token=token,
                org_ids=org_id,
                api_url=api_url,
                poll_initial_seconds=0.05,
                poll_max_seconds=0.05,
                poll_deadline_seconds=600,
            ),
        },
    )
