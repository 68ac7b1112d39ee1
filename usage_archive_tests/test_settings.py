"""The one reader of the environment: defaults, parsing, and errors that name every bad variable."""

from __future__ import annotations

import pytest

from usage_archive.periods import Month, Week
from usage_archive.settings import (
    DEFAULT_ARCHIVE_URL,
    DEFAULT_START_WEEK,
    Settings,
    SettingsError,
    parse_org_ids,
    secret_settings,
)


def test_an_empty_environment_gives_local_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.archive_url == DEFAULT_ARCHIVE_URL == ".archive"  # relative: the working directory's
    assert settings.storage_class == "INTELLIGENT_TIERING"
    assert settings.billing_start_month == Month.parse("2024-01")
    assert settings.start_week == DEFAULT_START_WEEK == Week.parse("2025-01-06")
    assert settings.billing_database_url is None
    assert settings.given == frozenset()


def test_values_are_parsed_and_blank_ones_count_as_unset() -> None:
    settings = Settings.from_env(
        {
            "ARCHIVE_URL": " s3://bucket/prod ",
            "ARCHIVE_STORAGE_CLASS": "standard_ia",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "BILLING_ARCHIVE_START_MONTH": "2025-03",
            "USAGE_ARCHIVE_START_WEEK": "2025-06-02",
            "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
            "CIRCLECI_TOKEN": "   ",
        }
    )
    assert settings.archive_url == "s3://bucket/prod"
    assert settings.storage_class == "STANDARD_IA"
    assert settings.aws_region == "eu-west-1"
    assert settings.billing_start_month == Month.parse("2025-03")
    assert settings.start_week == Week.parse("2025-06-02")
    assert settings.github_api_url == "https://ghe.example.com/api/v3"
    assert settings.circleci_token is None
    assert not settings.is_set("CIRCLECI_TOKEN")


def test_the_older_circleci_start_week_name_still_works() -> None:
    assert Settings.from_env({"CIRCLECI_START_WEEK": "2025-03-03"}).start_week == Week.parse("2025-03-03")
    both = {"CIRCLECI_START_WEEK": "2025-03-03", "USAGE_ARCHIVE_START_WEEK": "2025-02-03"}
    assert Settings.from_env(both).start_week == Week.parse("2025-02-03")


def test_every_bad_variable_is_named_at_once_without_secret_values() -> None:
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(
            {
                "USAGE_ARCHIVE_START_WEEK": "2025-01-07",
                "ARCHIVE_STORAGE_CLASS": "FAST",
                "ARCHIVE_USAGE_EXPIRE_DAYS": "a year",
                "ALERT_WEBHOOK_URL": "hooks.example.com/T0/s3cr3t",
                "ARCHIVE_URL": "ftp://host/x",
            }
        )
    message = str(excinfo.value)
    assert "USAGE_ARCHIVE_START_WEEK: week '2025-01-07' is a Tuesday" in message
    assert "ARCHIVE_STORAGE_CLASS='FAST' is not an S3 storage class" in message
    assert "ARCHIVE_USAGE_EXPIRE_DAYS='a year' is not a whole number of days" in message
    assert "ALERT_WEBHOOK_URL=(secret) is not an http(s):// URL" in message
    assert "ARCHIVE_URL='ftp://host/x'" in message
    assert "s3cr3t" not in message


def test_organisation_ids_are_checked_where_they_are_used() -> None:
    settings = Settings.from_env({"CIRCLECI_ORG_ID": "org-a, org-b,org-a,"})
    assert settings.circleci_org_ids() == ("org-a", "org-b")
    malformed = Settings.from_env({"CIRCLECI_ORG_ID": "org a"})  # loads: only CircleCI runs need it
    with pytest.raises(
        SettingsError, match="CIRCLECI_ORG_ID contains 'org a', which is not an organisation id"
    ):
        malformed.circleci_org_ids()
    assert parse_org_ids(None) == ()


def test_bucket_policy_values_have_defaults_and_take_the_variables() -> None:
    values = Settings.from_env(
        {"ARCHIVE_OBJECT_LOCK_DAYS": "30", "ARCHIVE_BUCKET_SKIP": "Public-Access-Block"}
    ).bucket_policy_values()
    assert values["object_lock_days"] == 30
    assert values["billing_expire_days"] == 3650
    assert values["skip"] == ("public_access_block",)
    assert values["object_lock_mode"] == "COMPLIANCE"
    assert values["default_retention_days"] is None  # no bucket-wide default retention unless asked for
    asked = Settings.from_env({"ARCHIVE_BUCKET_DEFAULT_RETENTION_DAYS": "30"})
    assert asked.bucket_policy_values()["default_retention_days"] == 30
    assert asked.object_lock_days == 3650  # billing objects' own retention, set at upload
    assert Settings.from_env({"ARCHIVE_OBJECT_LOCK_DAYS": "7"}).object_lock_days == 7


def test_secret_settings_lists_only_the_secrets_that_are_set() -> None:
    env = {"GITHUB_TOKEN": "ghp_x", "GITHUB_API_URL": "https://api.github.com", "CIRCLECI_TOKEN": ""}
    assert secret_settings(env) == {"GITHUB_TOKEN": "ghp_x"}


def test_the_cost_settings_are_exact_decimals_with_defaults() -> None:
    from decimal import Decimal

    defaults = Settings.from_env({})
    assert defaults.circleci_usd_per_credit == Decimal("0.0006")
    assert (defaults.ledger_tolerance_percent, defaults.ledger_tolerance_usd) == (Decimal(2), Decimal(1))
    assert defaults.github_enterprise is None and defaults.rates_file is None
    given = Settings.from_env(
        {
            "CIRCLECI_USD_PER_CREDIT": "0.00055",
            "GITHUB_LEDGER_TOLERANCE_PERCENT": "0.5",
            "GITHUB_LEDGER_TOLERANCE_USD": "0.25",
            "GITHUB_ENTERPRISE": "acme-corp",
            "USAGE_ARCHIVE_RATES": "config/rates.csv",
        }
    )
    assert str(given.circleci_usd_per_credit) == "0.00055"  # never through a float
    assert (given.ledger_tolerance_percent, given.ledger_tolerance_usd) == (Decimal("0.5"), Decimal("0.25"))
    assert (given.github_enterprise, given.rates_file) == ("acme-corp", "config/rates.csv")
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(
            {
                "CIRCLECI_USD_PER_CREDIT": "six tenths of a cent",
                "GITHUB_LEDGER_TOLERANCE_USD": "-1",
                "GITHUB_ENTERPRISE": "acme corp",
            }
        )
    message = str(excinfo.value)
    assert "CIRCLECI_USD_PER_CREDIT='six tenths of a cent' is not a decimal number" in message
    assert "GITHUB_LEDGER_TOLERANCE_USD='-1' must be a finite decimal of 0 or more" in message
    assert "GITHUB_ENTERPRISE='acme corp' is not an enterprise slug" in message
