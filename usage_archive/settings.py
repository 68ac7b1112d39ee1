"""Every environment variable the archive reads, with its default and its validation, in one place.

`Settings.from_env()` is the one reader of the environment: the resources (`defs/resources.py`), the CLI, the
demo and the partitions take their values from it. A variable that is set but wrong raises `SettingsError`,
which names each bad variable and the form expected (never a secret's value). Unset variables get defaults
that work on a laptop. No Dagster import, so the CLI starts fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from usage_archive.periods import Month, PeriodError, Week

T = TypeVar("T")

# Without ARCHIVE_URL the archive is the `.archive/` folder of the current working directory.
DEFAULT_ARCHIVE_URL = ".archive"
DEFAULT_STORAGE_CLASS = "INTELLIGENT_TIERING"
DEFAULT_START_MONTH = Month.parse("2024-01")
# A fixed Monday, never relative to today: the partition set only ever grows, so archived weeks keep their
# history in the UI. GitHub lists runs of roughly the last 400 days; CircleCI exports about a year back.
DEFAULT_START_WEEK = Week.parse("2025-01-06")
DEFAULT_CIRCLECI_API_URL = "https://circleci.com/api/v2"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_REPOSITORIES_FILE = "repositories.yml"
DEFAULT_UI_URL = "http://localhost:3000"
# CircleCI's Performance plan sells 25,000 credits for 15 USD; contracts differ (docs/ci_costs.md).
DEFAULT_CIRCLECI_USD_PER_CREDIT = Decimal("0.0006")
# The reconciliation of GitHub's billing ledger with the estimate flags a repository when the two differ by
# more than the larger of these (docs/ci_costs.md).
DEFAULT_LEDGER_TOLERANCE_PERCENT = Decimal("2")
DEFAULT_LEDGER_TOLERANCE_USD = Decimal("1")
# Ten years: the manifest's retention_years and the billing expiry. Each billing object (files and manifest) is
# locked for this long from its upload. COMPLIANCE retention can never be shortened or removed, not even by the
# root account, so a smaller value must be chosen on purpose.
DEFAULT_OBJECT_LOCK_DAYS = 3650
DEFAULT_OBJECT_LOCK_MODE = "COMPLIANCE"
OBJECT_LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
# In AWS's transition order: an object only ever moves to a class further down this list.
STORAGE_CLASSES = (
    "STANDARD",
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)

# Bucket lifecycle and Object Lock (usage-archive bucket apply|check): variable → BucketSettings field, default.
BUCKET_DAYS = {
    "ARCHIVE_OBJECT_LOCK_DAYS": ("object_lock_days", DEFAULT_OBJECT_LOCK_DAYS),
    "ARCHIVE_BILLING_GLACIER_IR_DAYS": ("billing_glacier_ir_days", 90),
    "ARCHIVE_BILLING_DEEP_ARCHIVE_DAYS": ("billing_deep_archive_days", 365),
    "ARCHIVE_BILLING_EXPIRE_DAYS": ("billing_expire_days", 3650),
    "ARCHIVE_USAGE_GLACIER_DAYS": ("usage_glacier_days", 90),
    "ARCHIVE_USAGE_EXPIRE_DAYS": ("usage_expire_days", 365),
    # A bucket-wide default retention, only when asked for: it would lock every object, usage data and working
    # files included (billing objects are locked one by one at upload, ARCHIVE_OBJECT_LOCK_DAYS).
    "ARCHIVE_BUCKET_DEFAULT_RETENTION_DAYS": ("default_retention_days", None),
}
# Secrets: resources bind them as dg.EnvVar (resolved at run time, hidden in the UI) and alerts redact their
# values. The AWS and Dagster ones are read by boto3 and the deployment, and only redacted here.
SECRET_VARIABLES = (
    "ALERT_WEBHOOK_URL",
    "CIRCLECI_TOKEN",
    "GITHUB_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "DAGSTER_PG_PASSWORD",
    "BILLING_DATABASE_URL",
)


_ORG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


class SettingsError(ValueError):
    """One or more environment variables are set to something unusable; the message lists them all."""


def parse_org_ids(value: str | None) -> tuple[str, ...]:
    """CIRCLECI_ORG_ID: one id or a comma-separated list (duplicates and blanks ignored)."""
    ids: list[str] = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        if not _ORG_ID.match(item):
            raise SettingsError(
                f"CIRCLECI_ORG_ID contains {item!r}, which is not an organisation id "
                "(letters, digits, '-', '_' and '.' only)"
            )
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def secret_settings(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The SECRET_VARIABLES that are set, by name (unchecked: redaction must work whatever else is wrong)."""
    env = os.environ if env is None else env
    return {name: env[name].strip() for name in SECRET_VARIABLES if (env.get(name) or "").strip()}


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("is not an http(s):// URL")
    return text.rstrip("/")


def _storage_class(text: str) -> str:
    value = text.upper()
    if value not in STORAGE_CLASSES:
        raise ValueError(f"is not an S3 storage class ({', '.join(STORAGE_CLASSES)})")
    return value


def _days(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("is not a whole number of days") from None


def _archive_url(text: str) -> str:
    from usage_archive.archive.store import parse_archive_url

    parse_archive_url(text)
    return text


def _lock_mode(text: str) -> str:
    value = text.upper()
    if value not in OBJECT_LOCK_MODES:
        raise ValueError(f"is not an Object Lock mode ({', '.join(OBJECT_LOCK_MODES)})")
    return value


def _decimal(places: int) -> Callable[[str], Decimal]:
    """A parser of exact decimals of 0 or more with at most `places` decimal places (never through float)."""

    def parse(text: str) -> Decimal:
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError("is not a decimal number (e.g. 0.0006)") from None
        if not value.is_finite() or value < 0:
            raise ValueError("must be a finite decimal of 0 or more")
        if value != value.quantize(Decimal(1).scaleb(-places)) or value >= Decimal(10) ** 12:
            raise ValueError(f"must have at most {places} decimal places and 12 digits before the point")
        return value

    return parse


_ENTERPRISE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,98}[A-Za-z0-9])?\Z")


def _enterprise(text: str) -> str:
    if not _ENTERPRISE.match(text):
        raise ValueError(
            "is not an enterprise slug (letters, digits and '-', as in github.com/enterprises/SLUG)"
        )
    return text


def _skip(text: str) -> tuple[str, ...]:
    return tuple(p.strip().lower().replace("-", "_") for p in text.split(",") if p.strip())


@dataclass(frozen=True)
class Settings:
    """The archive's configuration. Field comments name the variable; defaults are the module's DEFAULT_*."""

    archive_url: str = DEFAULT_ARCHIVE_URL  # ARCHIVE_URL: s3://bucket[/prefix] or a local directory
    storage_class: str = DEFAULT_STORAGE_CLASS  # ARCHIVE_STORAGE_CLASS: the class new objects start in
    aws_region: str | None = None  # AWS_REGION, else AWS_DEFAULT_REGION (boto3 reads the other AWS_* itself)
    billing_database_url: str | None = None  # BILLING_DATABASE_URL (secret)
    billing_start_month: Month = DEFAULT_START_MONTH  # BILLING_ARCHIVE_START_MONTH: first monthly partition
    start_week: Week = DEFAULT_START_WEEK  # USAGE_ARCHIVE_START_WEEK: first weekly partition (a Monday)
    circleci_token: str | None = None  # CIRCLECI_TOKEN (secret)
    # CIRCLECI_ORG_ID, as given: checked where it is used (circleci_org_ids), so a typo stops CircleCI runs
    # with a clear error instead of keeping the whole code location from loading.
    circleci_org_id: str | None = None
    circleci_api_url: str = DEFAULT_CIRCLECI_API_URL  # CIRCLECI_API_URL
    github_token: str | None = None  # GITHUB_TOKEN (secret)
    github_api_url: str = DEFAULT_GITHUB_API_URL  # GITHUB_API_URL (GitHub Enterprise: https://HOST/api/v3)
    repositories_file: str = DEFAULT_REPOSITORIES_FILE  # USAGE_ARCHIVE_REPOSITORIES
    rates_file: str | None = None  # USAGE_ARCHIVE_RATES: your GitHub Actions rates (github_actions/rates.py)
    github_enterprise: str | None = None  # GITHUB_ENTERPRISE: also read the enterprise's billing usage
    circleci_usd_per_credit: Decimal = DEFAULT_CIRCLECI_USD_PER_CREDIT  # CIRCLECI_USD_PER_CREDIT
    ledger_tolerance_percent: Decimal = DEFAULT_LEDGER_TOLERANCE_PERCENT  # GITHUB_LEDGER_TOLERANCE_PERCENT
    ledger_tolerance_usd: Decimal = DEFAULT_LEDGER_TOLERANCE_USD  # GITHUB_LEDGER_TOLERANCE_USD
    alert_webhook_url: str | None = None  # ALERT_WEBHOOK_URL (secret: its path is the token)
    ui_url: str = DEFAULT_UI_URL  # DAGSTER_UI_URL: base of the run links in alerts
    object_lock_mode: str = DEFAULT_OBJECT_LOCK_MODE  # ARCHIVE_OBJECT_LOCK_MODE: billing objects' lock mode
    bucket_days: Mapping[str, int] = field(default_factory=dict)  # ARCHIVE_*_DAYS that are set (BUCKET_DAYS)
    bucket_skip: tuple[str, ...] = ()  # ARCHIVE_BUCKET_SKIP: bucket settings left alone, comma-separated
    given: frozenset[str] = frozenset()  # every variable that is set (non-empty)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every variable (`env` defaults to the process environment)."""
        env = os.environ if env is None else env
        raw = {name: value.strip() for name, value in env.items() if value and value.strip()}
        problems: list[str] = []

        def read(name: str, parse: Callable[[str], T], default: T) -> T:
            if name not in raw:
                return default
            try:
                return parse(raw[name])
            except ValueError as exc:
                shown = "(secret)" if name in SECRET_VARIABLES else repr(raw[name])
                problems.append(
                    f"{name}={shown} {exc}" if not isinstance(exc, PeriodError) else f"{name}: {exc}"
                )
                return default

        start_week_name = (
            "USAGE_ARCHIVE_START_WEEK" if "USAGE_ARCHIVE_START_WEEK" in raw else "CIRCLECI_START_WEEK"
        )
        bucket_days = {
            name: read(name, _days, default) for name, (_, default) in BUCKET_DAYS.items() if name in raw
        }
        settings = cls(
            archive_url=read("ARCHIVE_URL", _archive_url, DEFAULT_ARCHIVE_URL),
            storage_class=read("ARCHIVE_STORAGE_CLASS", _storage_class, DEFAULT_STORAGE_CLASS),
            aws_region=raw.get("AWS_REGION") or raw.get("AWS_DEFAULT_REGION"),
            billing_database_url=raw.get("BILLING_DATABASE_URL"),
            billing_start_month=read("BILLING_ARCHIVE_START_MONTH", Month.parse, DEFAULT_START_MONTH),
            # CIRCLECI_START_WEEK is the older name, still honoured when the new one is not set.
            start_week=read(start_week_name, Week.parse, DEFAULT_START_WEEK),
            circleci_token=raw.get("CIRCLECI_TOKEN"),
            circleci_org_id=raw.get("CIRCLECI_ORG_ID"),
            circleci_api_url=read("CIRCLECI_API_URL", _url, DEFAULT_CIRCLECI_API_URL),
            github_token=raw.get("GITHUB_TOKEN"),
            github_api_url=read("GITHUB_API_URL", _url, DEFAULT_GITHUB_API_URL),
            repositories_file=raw.get("USAGE_ARCHIVE_REPOSITORIES", DEFAULT_REPOSITORIES_FILE),
            rates_file=raw.get("USAGE_ARCHIVE_RATES"),
            github_enterprise=read("GITHUB_ENTERPRISE", _enterprise, None),
            circleci_usd_per_credit=read(
                "CIRCLECI_USD_PER_CREDIT", _decimal(9), DEFAULT_CIRCLECI_USD_PER_CREDIT
            ),
            ledger_tolerance_percent=read(
                "GITHUB_LEDGER_TOLERANCE_PERCENT", _decimal(4), DEFAULT_LEDGER_TOLERANCE_PERCENT
            ),
            ledger_tolerance_usd=read(
                "GITHUB_LEDGER_TOLERANCE_USD", _decimal(2), DEFAULT_LEDGER_TOLERANCE_USD
            ),
            alert_webhook_url=read("ALERT_WEBHOOK_URL", _url, None),
            ui_url=read("DAGSTER_UI_URL", _url, DEFAULT_UI_URL),
            object_lock_mode=read("ARCHIVE_OBJECT_LOCK_MODE", _lock_mode, DEFAULT_OBJECT_LOCK_MODE),
            bucket_days=bucket_days,
            bucket_skip=read("ARCHIVE_BUCKET_SKIP", _skip, ()),
            given=frozenset(raw),
        )
        if problems:
            raise SettingsError("; ".join(problems))
        return settings

    def is_set(self, name: str) -> bool:
        return name in self.given

    @property
    def object_lock_days(self) -> int:
        """ARCHIVE_OBJECT_LOCK_DAYS: how long each billing object stays locked after its upload."""
        return self.bucket_days.get("ARCHIVE_OBJECT_LOCK_DAYS", DEFAULT_OBJECT_LOCK_DAYS)

    def circleci_org_ids(self) -> tuple[str, ...]:
        """The organisations CIRCLECI_ORG_ID lists; SettingsError when it is malformed."""
        return parse_org_ids(self.circleci_org_id)

    def bucket_policy_values(self) -> dict[str, Any]:
        """BucketSettings fields from the ARCHIVE_* variables (each with its default)."""
        values: dict[str, Any] = {
            attr: self.bucket_days.get(name, default) for name, (attr, default) in BUCKET_DAYS.items()
        }
        values.update(
            object_lock_mode=self.object_lock_mode,
            upload_storage_class=self.storage_class,
            skip=self.bucket_skip,
        )
        return values
