"""Every resource of the code location, bound in one place from `usage_archive.settings`.

Secrets that are set are bound as `dg.EnvVar`, so Dagster resolves them at run time and never shows them in the
UI; unset ones stay empty and the asset that needs one fails with the variable's name. Other values are the
checked settings (or their local defaults).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from usage_archive.resources.alerts import AlertWebhookResource
from usage_archive.resources.archive_store import ArchiveStoreResource, S3ClientResource
from usage_archive.resources.billing_db import BillingDatabaseResource
from usage_archive.resources.circleci import CircleCIResource
from usage_archive.resources.github import GitHubResource
from usage_archive.settings import Settings


def _secret(settings: Settings, name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if settings.is_set(name) else None


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "archive_store": ArchiveStoreResource(
            url=settings.archive_url,
            storage_class=settings.storage_class,
            object_lock_mode=settings.object_lock_mode,
            object_lock_days=settings.object_lock_days,
            s3=S3ClientResource(region_name=settings.aws_region),
        ),
        "billing_db": BillingDatabaseResource(url=_secret(settings, "BILLING_DATABASE_URL")),
        "circleci": CircleCIResource(
            token=_secret(settings, "CIRCLECI_TOKEN"),
            org_ids=settings.circleci_org_id,
            api_url=settings.circleci_api_url,
        ),
        "github": GitHubResource(
            token=_secret(settings, "GITHUB_TOKEN"),
            api_url=settings.github_api_url,
            repositories_file=settings.repositories_file,
            rates_file=settings.rates_file,
            enterprise=settings.github_enterprise,
        ),
        "alert_webhook": AlertWebhookResource(
            webhook_url=_secret(settings, "ALERT_WEBHOOK_URL"),
            ui_url=settings.ui_url,
        ),
    }


defs = dg.Definitions(resources=build_resources(Settings.from_env()))
