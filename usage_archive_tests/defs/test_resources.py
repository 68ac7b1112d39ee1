"""One binding of every resource, from the settings: secrets as EnvVar, the rest as checked values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dagster as dg

from usage_archive.archive.store import LocalArchiveStore, S3ArchiveStore
from usage_archive.defs.resources import build_resources
from usage_archive.settings import DEFAULT_CIRCLECI_API_URL, DEFAULT_GITHUB_API_URL, Settings

EVERY_RESOURCE = {"archive_store", "billing_db", "circleci", "github", "alert_webhook"}


def test_without_settings_every_resource_loads_with_local_defaults(tmp_path, monkeypatch) -> None:
    resources = build_resources(Settings.from_env({}))
    assert set(resources) == EVERY_RESOURCE
    assert resources["github"].token is None  # the asset fails at run time, naming GITHUB_TOKEN
    assert resources["github"].api_url == DEFAULT_GITHUB_API_URL
    assert resources["circleci"].api_url == DEFAULT_CIRCLECI_API_URL
    monkeypatch.chdir(tmp_path)
    store = resources["archive_store"].get_store()
    assert isinstance(store, LocalArchiveStore)
    assert store.root == tmp_path / ".archive"  # the working directory's, not the install path's


def test_secrets_are_bound_as_env_vars_and_never_shown() -> None:
    env = {
        "GITHUB_TOKEN": "ghp_from_env_123",
        "BILLING_DATABASE_URL": "postgresql://u:pw123456@db/billing",
        "ARCHIVE_URL": "s3://bucket/prod",
        "CIRCLECI_ORG_ID": "org-a,org-b",
    }
    resources = build_resources(Settings.from_env(env))
    assert isinstance(resources["github"].token, dg.EnvVar)
    assert isinstance(resources["billing_db"].url, dg.EnvVar)
    assert "ghp_from_env_123" not in repr(resources)
    assert "pw123456" not in repr(resources)
    assert resources["archive_store"].url == "s3://bucket/prod"
    assert resources["circleci"].org_id_list() == ("org-a", "org-b")


def test_the_resource_and_the_cli_build_the_same_store(moto_endpoint, s3_bucket, monkeypatch) -> None:
    from usage_archive.archive.store import store_from_url
    from usage_archive.resources.archive_store import S3ClientResource

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    url = f"s3://{s3_bucket}/prod"
    from_cli = store_from_url(url, storage_class="STANDARD")
    from_resource = build_resources(
        Settings.from_env({"ARCHIVE_URL": url, "ARCHIVE_STORAGE_CLASS": "STANDARD"})
    )["archive_store"].model_copy(update={"s3": S3ClientResource(endpoint_url=moto_endpoint)})
    stores = [from_cli, from_resource.get_store()]
    assert all(isinstance(s, S3ArchiveStore) for s in stores)
    assert {(s.bucket, s.prefix, s.storage_class) for s in stores} == {(s3_bucket, "prod", "STANDARD")}
    stores[0].put_bytes("probe.txt", b"x")
    assert stores[1].get_bytes("probe.txt") == b"x"


def test_the_github_resource_gets_the_enterprise_and_your_rates_file(tmp_path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("runner,effective_from,effective_to,usd_per_minute\nstandard_linux,2026-01-01,,0.005\n")
    github = build_resources(
        Settings.from_env({"GITHUB_ENTERPRISE": "acme", "USAGE_ARCHIVE_RATES": str(rates)})
    )["github"]
    assert (github.enterprise, github.rates_file) == ("acme", str(rates))
    table = github.get_rates()
    assert table.rate("standard_linux", date(2026, 1, 5)) == Decimal("0.005")  # yours
    assert table.rate("standard_macos", date(2026, 1, 5)) == Decimal("0.062")  # shipped


def test_the_store_locks_billing_uploads_as_the_settings_say(moto_endpoint, s3_bucket) -> None:
    from usage_archive.resources.archive_store import S3ClientResource

    env = {
        "ARCHIVE_URL": f"s3://{s3_bucket}",
        "ARCHIVE_OBJECT_LOCK_MODE": "governance",
        "ARCHIVE_OBJECT_LOCK_DAYS": "2",
    }
    resource = build_resources(Settings.from_env(env))["archive_store"].model_copy(
        update={"s3": S3ClientResource(endpoint_url=moto_endpoint)}
    )
    store = resource.get_store()
    assert isinstance(store, S3ArchiveStore)
    assert (store.object_lock.mode, store.object_lock.days) == ("GOVERNANCE", 2)
    assert store.put_bytes("billing-archive/2025/01/manifest.json", b"{}").lock_mode == "GOVERNANCE"
    assert store.put_bytes("github-actions-usage/workflow-runs-x.parquet", b"x").lock_mode is None
