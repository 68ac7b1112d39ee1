"""The archive bucket's settings as code: desired state, local lifecycle validation, drift report and apply.

No Dagster import: `usage-archive bucket apply|check` and the Dagster bucket jobs share this module.

What the SPEC asks of the bucket ("Retention and governance (S3)"): versioning on, Object Lock with a default
retention (COMPLIANCE unless configured otherwise), default encryption AES-256, every public access blocked, and
lifecycle rules per prefix (billing → GLACIER_IR 90 d → DEEP_ARCHIVE 365 d → expire 3650 d; CircleCI and GitHub
usage → GLACIER 90 d → expire 365 d). Lifecycle rules are validated here before they are sent, because the S3
servers used in tests (moto) accept anything, and AWS only rejects some mistakes (not, for example, an expiry
that cuts a DEEP_ARCHIVE object's 180-day minimum short and is billed anyway).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

BILLING_PREFIX = "billing-archive"  # same as usage_archive.export.month.BILLING_PREFIX (SPEC storage layout)
CIRCLECI_PREFIX = "circleci-usage-data"
GITHUB_ACTIONS_PREFIX = "github-actions-usage"

# Ten years: the manifest's retention_years and the billing expiry. COMPLIANCE retention can never be shortened
# or removed, not even by the root account, so a smaller value must be chosen on purpose (env var) for tests.
DEFAULT_OBJECT_LOCK_DAYS = 3650
OBJECT_LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
ABORT_INCOMPLETE_UPLOAD_DAYS = 7
# On a versioned bucket an expiry only adds a delete marker; the old version goes this many days later, once
# its Object Lock retention allows (a window to undo an accidental overwrite where nothing is locked).
NONCURRENT_VERSION_DAYS = 30

# AWS's transition waterfall: an object only ever moves to a class further down this list.
STORAGE_CLASS_ORDER = (
    "STANDARD",
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)
# Minimum storage durations (days): leaving a class earlier is billed as if the object stayed.
MINIMUM_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30, "GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}
# Transitions into the infrequent-access classes are only accepted from 30 days on.
EARLIEST_TRANSITION = {"STANDARD_IA": 30, "ONEZONE_IA": 30}

# What `bucket apply` manages; `skip` leaves some alone on S3-compatible servers that lack them (MinIO has no
# public access block, and its lifecycle transitions need tiers configured in MinIO itself).
SETTINGS = ("versioning", "object_lock", "encryption", "public_access_block", "lifecycle")
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


class LifecycleError(ValueError):
    """Lifecycle rules that S3 would refuse, or that would cost money for nothing. Lists every problem."""


class BucketPolicyError(RuntimeError):
    """The bucket cannot be brought to the desired state (missing bucket, refused call …)."""


@dataclass(frozen=True)
class LifecycleRule:
    """One prefix's tiering: transitions as (days, storage class), then expiry."""

    rule_id: str
    prefix: str
    transitions: tuple[tuple[int, str], ...]
    expiration_days: int | None

    def to_s3(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "ID": self.rule_id,
            "Status": "Enabled",
            "Filter": {"Prefix": self.prefix},
            "Transitions": [{"Days": days, "StorageClass": cls} for days, cls in self.transitions],
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_VERSION_DAYS},
        }
        if self.expiration_days is not None:
            rule["Expiration"] = {"Days": self.expiration_days}
        if not rule["Transitions"]:
            del rule["Transitions"]
        return rule


@dataclass(frozen=True)
class BucketSettings:
    """Everything `bucket apply` enforces. Days are configurable; the defaults are the SPEC's."""

    bucket: str
    prefix: str = ""  # the archive root inside the bucket (ARCHIVE_URL's path)
    object_lock_mode: str = "COMPLIANCE"
    object_lock_days: int = DEFAULT_OBJECT_LOCK_DAYS
    billing_glacier_ir_days: int = 90
    billing_deep_archive_days: int = 365
    billing_expire_days: int = 3650
    usage_glacier_days: int = 90
    usage_expire_days: int = 365
    encryption: str = "AES256"
    upload_storage_class: str = "INTELLIGENT_TIERING"  # ARCHIVE_STORAGE_CLASS: the class objects start in
    skip: tuple[str, ...] = ()  # settings from SETTINGS left alone (ARCHIVE_BUCKET_SKIP, comma-separated)

    def key_prefix(self, folder: str) -> str:
        root = self.prefix.strip("/")
        return f"{root}/{folder}/" if root else f"{folder}/"

    def lifecycle_rules(self) -> list[LifecycleRule]:
        usage = ((self.usage_glacier_days, "GLACIER"),)
        return [
            LifecycleRule(
                "billing-archive-tiering",
                self.key_prefix(BILLING_PREFIX),
                (
                    (self.billing_glacier_ir_days, "GLACIER_IR"),
                    (self.billing_deep_archive_days, "DEEP_ARCHIVE"),
                ),
                self.billing_expire_days,
            ),
            LifecycleRule(
                "circleci-usage-tiering", self.key_prefix(CIRCLECI_PREFIX), usage, self.usage_expire_days
            ),
            LifecycleRule(
                "github-actions-usage-tiering",
                self.key_prefix(GITHUB_ACTIONS_PREFIX),
                usage,
                self.usage_expire_days,
            ),
        ]

    def desired(self) -> dict[str, Any]:
        """The bucket's configuration as S3 returns it from the get_* calls (normalised)."""
        desired = {
            "versioning": "Enabled",
            "object_lock": {
                "enabled": "Enabled",
                "mode": self.object_lock_mode,
                "days": self.object_lock_days,
            },
            "encryption": self.encryption,
            "public_access_block": dict(PUBLIC_ACCESS_BLOCK),
            "lifecycle": {r.rule_id: normalise_rule(r.to_s3()) for r in self.lifecycle_rules()},
        }
        return {name: value for name, value in desired.items() if name not in self.skip}

    def validate(self) -> list[str]:
        """Every problem of these settings (lifecycle and Object Lock); empty when they are sound."""
        problems = validate_lifecycle(
            [r.to_s3() for r in self.lifecycle_rules()], initial_class=self.upload_storage_class
        )
        unknown = sorted(set(self.skip) - set(SETTINGS))
        if unknown:
            problems.append(f"cannot skip {', '.join(unknown)}: the settings are {', '.join(SETTINGS)}")
        if self.object_lock_mode not in OBJECT_LOCK_MODES:
            problems.append(
                f"Object Lock mode {self.object_lock_mode!r} is not one of {', '.join(OBJECT_LOCK_MODES)}"
            )
        if self.object_lock_days < 1:
            problems.append(f"Object Lock retention must be at least 1 day, not {self.object_lock_days}")
        if self.object_lock_days > self.billing_expire_days:
            problems.append(
                f"Object Lock retention ({self.object_lock_days} d) outlasts the billing expiry "
                f"({self.billing_expire_days} d): expired versions could not be removed"
            )
        return problems


ENV_FIELDS = {
    "ARCHIVE_OBJECT_LOCK_MODE": "object_lock_mode",
    "ARCHIVE_OBJECT_LOCK_DAYS": "object_lock_days",
    "ARCHIVE_BILLING_GLACIER_IR_DAYS": "billing_glacier_ir_days",
    "ARCHIVE_BILLING_DEEP_ARCHIVE_DAYS": "billing_deep_archive_days",
    "ARCHIVE_BILLING_EXPIRE_DAYS": "billing_expire_days",
    "ARCHIVE_USAGE_GLACIER_DAYS": "usage_glacier_days",
    "ARCHIVE_USAGE_EXPIRE_DAYS": "usage_expire_days",
    "ARCHIVE_STORAGE_CLASS": "upload_storage_class",
    "ARCHIVE_BUCKET_SKIP": "skip",
}


def settings_from_env(
    bucket: str, prefix: str = "", env: Mapping[str, str] | None = None, **overrides: Any
) -> BucketSettings:
    """BucketSettings from the ARCHIVE_* variables (see ENV_FIELDS), then explicit overrides (CLI flags)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name, attr in ENV_FIELDS.items():
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            continue
        if attr in ("object_lock_mode", "upload_storage_class"):
            values[attr] = raw.strip().upper()
            continue
        if attr == "skip":
            values[attr] = tuple(p.strip().lower().replace("-", "_") for p in raw.split(",") if p.strip())
            continue
        try:
            values[attr] = int(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not a whole number of days") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return BucketSettings(bucket=bucket, prefix=prefix, **values)


def validate_lifecycle(rules: list[dict[str, Any]], initial_class: str = "STANDARD") -> list[str]:
    """What S3 (or the bill) would object to in these lifecycle rules: transition order (starting from the class
    objects are uploaded in), minimum storage durations, expiry after the last transition, duplicate ids and
    overlapping prefixes."""
    problems: list[str] = []
    ids = [r.get("ID", "") for r in rules]
    for rule_id in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"rule id {rule_id!r} is used more than once")
    prefixes = [(r.get("ID", "?"), (r.get("Filter") or {}).get("Prefix", "")) for r in rules]
    for i, (id_a, a) in enumerate(prefixes):
        for id_b, b in prefixes[i + 1 :]:
            if a.startswith(b) or b.startswith(a):
                problems.append(f"rules {id_a!r} and {id_b!r} overlap (prefixes {a!r} and {b!r})")
    for rule in rules:
        name = rule.get("ID", "?")
        steps: list[tuple[int, str]] = []
        for transition in rule.get("Transitions", []):
            days, cls = transition.get("Days"), transition.get("StorageClass")
            if not isinstance(days, int) or days < 0:
                problems.append(
                    f"rule {name!r}: transition to {cls} needs a whole number of days >= 0, not {days!r}"
                )
                continue
            if cls not in STORAGE_CLASS_ORDER[1:]:
                problems.append(f"rule {name!r}: unknown storage class {cls!r}")
                continue
            if days < EARLIEST_TRANSITION.get(cls, 0):
                problems.append(
                    f"rule {name!r}: {cls} transitions need at least {EARLIEST_TRANSITION[cls]} days, "
                    f"not {days}"
                )
            steps.append((days, cls))
        start = [(0, initial_class)] if initial_class in STORAGE_CLASS_ORDER else []
        for (_, cls_a), (_, cls_b) in pairwise(start + steps):
            if STORAGE_CLASS_ORDER.index(cls_b) <= STORAGE_CLASS_ORDER.index(cls_a):
                problems.append(
                    f"rule {name!r}: {cls_a} → {cls_b} goes against the transition order "
                    f"({' → '.join(STORAGE_CLASS_ORDER)})"
                )
        for (days_a, cls_a), (days_b, cls_b) in pairwise(steps):
            if days_b <= days_a:
                problems.append(
                    f"rule {name!r}: transition to {cls_b} at day {days_b} is not after the "
                    f"transition to {cls_a} at day {days_a}"
                )
            elif days_b - days_a < MINIMUM_DAYS.get(cls_a, 0):
                problems.append(
                    f"rule {name!r}: objects would leave {cls_a} after {days_b - days_a} days, "
                    f"before its {MINIMUM_DAYS[cls_a]}-day minimum storage duration"
                )
        expiration = (rule.get("Expiration") or {}).get("Days")
        if expiration is not None:
            if not isinstance(expiration, int) or expiration < 1:
                problems.append(
                    f"rule {name!r}: expiration needs a whole number of days >= 1, not {expiration!r}"
                )
            elif steps:
                last_days, last_cls = steps[-1]
                if expiration <= last_days:
                    problems.append(
                        f"rule {name!r}: expiration at day {expiration} is not after the last "
                        f"transition ({last_cls} at day {last_days})"
                    )
                elif expiration - last_days < MINIMUM_DAYS.get(last_cls, 0):
                    problems.append(
                        f"rule {name!r}: objects would expire {expiration - last_days} days after "
                        f"moving to {last_cls}, before its {MINIMUM_DAYS[last_cls]}-day minimum "
                        "storage duration"
                    )
    return problems


def normalise_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle rule reduced to what we manage, in a comparable shape."""
    return {
        "Status": rule.get("Status"),
        "Prefix": (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix")),
        "Transitions": sorted((t.get("Days"), t.get("StorageClass")) for t in rule.get("Transitions", [])),
        "Expiration": (rule.get("Expiration") or {}).get("Days"),
        "AbortIncompleteMultipartUpload": (rule.get("AbortIncompleteMultipartUpload") or {}).get(
            "DaysAfterInitiation"
        ),
        "NoncurrentVersionExpiration": (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"),
    }


@dataclass(frozen=True)
class Drift:
    setting: str
    expected: Any
    actual: Any

    def describe(self) -> str:
        return f"{self.setting}: expected {self.expected!r}, found {self.actual!r}"


@dataclass
class BucketReport:
    bucket: str
    drift: list[Drift] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)  # settings changed by apply
    created: bool = False
    skipped: tuple[str, ...] = ()

    @property
    def in_sync(self) -> bool:
        return not self.drift

    def lines(self) -> list[str]:
        out = [f"bucket {self.bucket}: " + ("created" if self.created else "exists")]
        out += [f"  DRIFT {d.describe()}" for d in self.drift]
        out += [f"  applied {s}" for s in self.applied]
        if self.skipped:
            out.append(f"  not managed here (skipped): {', '.join(self.skipped)}")
        if not self.drift and not self.applied:
            out.append("  in sync with the desired settings")
        return out


def _error_code(exc: Exception) -> str:
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "") or type(exc).__name__


def _get(
    fn: Callable[..., dict[str, Any]], missing_codes: tuple[str, ...], **kwargs: Any
) -> dict[str, Any] | None:
    """A get_* call that returns None where S3 says "not configured"."""
    try:
        return fn(**kwargs)
    except Exception as exc:
        if _error_code(exc) in missing_codes:
            return None
        raise


def read_bucket_state(client: Any, bucket: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The bucket's current settings, normalised like BucketSettings.desired(); skipped ones are not read."""
    state: dict[str, Any] = {}
    if "versioning" not in skip:
        state["versioning"] = client.get_bucket_versioning(Bucket=bucket).get("Status", "Disabled")
    if "object_lock" not in skip:
        lock = _get(
            client.get_object_lock_configuration, ("ObjectLockConfigurationNotFoundError",), Bucket=bucket
        )
        lock_conf = (lock or {}).get("ObjectLockConfiguration") or {}
        retention = (lock_conf.get("Rule") or {}).get("DefaultRetention") or {}
        days = retention.get("Days") or (retention.get("Years") or 0) * 365 or None
        state["object_lock"] = {
            "enabled": lock_conf.get("ObjectLockEnabled", "Disabled"),
            "mode": retention.get("Mode"),
            "days": days,
        }
    if "encryption" not in skip:
        encryption = _get(
            client.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError",), Bucket=bucket
        )
        sse_rules = ((encryption or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []
        algorithms = sorted(
            {(r.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for r in sse_rules}
        )
        state["encryption"] = algorithms[0] if len(algorithms) == 1 else (algorithms or None)
    if "public_access_block" not in skip:
        pab = _get(client.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), Bucket=bucket)
        state["public_access_block"] = (pab or {}).get("PublicAccessBlockConfiguration") or {}
    if "lifecycle" not in skip:
        lifecycle = _get(
            client.get_bucket_lifecycle_configuration, ("NoSuchLifecycleConfiguration",), Bucket=bucket
        )
        state["lifecycle"] = {r.get("ID", ""): normalise_rule(r) for r in (lifecycle or {}).get("Rules", [])}
    return state


def compare(desired: dict[str, Any], actual: dict[str, Any]) -> list[Drift]:
    drift: list[Drift] = []
    for name in ("versioning", "encryption"):
        if name in desired and desired[name] != actual[name]:
            drift.append(Drift(name, desired[name], actual[name]))
    for name in ("object_lock", "public_access_block"):
        for key, value in desired.get(name, {}).items():
            if actual[name].get(key) != value:
                drift.append(Drift(f"{name}.{key}", value, actual[name].get(key)))
    if "lifecycle" not in desired:
        return drift
    for rule_id, rule in desired["lifecycle"].items():
        current = actual["lifecycle"].get(rule_id)
        if current is None:
            drift.append(Drift(f"lifecycle[{rule_id}]", rule, None))
            continue
        for key, value in rule.items():
            if current.get(key) != value:
                drift.append(Drift(f"lifecycle[{rule_id}].{key}", value, current.get(key)))
    for rule_id in sorted(set(actual["lifecycle"]) - set(desired["lifecycle"])):
        drift.append(Drift(f"lifecycle[{rule_id}]", None, actual["lifecycle"][rule_id]))
    return drift


def _require_valid(settings: BucketSettings) -> None:
    problems = settings.validate()
    if problems:
        raise LifecycleError(
            "the bucket settings are not valid, nothing was changed:\n- " + "\n- ".join(problems)
        )


def _call(action: str, bucket: str, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except Exception as exc:
        code = _error_code(exc)
        hint = {
            "NoSuchBucket": "the bucket does not exist (bucket apply --create makes it)",
            "AccessDenied": "these credentials may not change bucket settings (usage-archive iam-policy "
            "--role bucket-admin)",
            "InvalidBucket": "this S3 server only accepts a default retention on an empty bucket",
            "InvalidBucketState": "Object Lock needs versioning enabled first",
        }.get(code, "")
        raise BucketPolicyError(
            f"{action} on bucket {bucket!r} failed: {code}" + (f" ({hint})" if hint else "")
        ) from None


def check_bucket(client: Any, settings: BucketSettings) -> BucketReport:
    """Compare the bucket with the desired settings; changes nothing."""
    _require_valid(settings)
    actual = _call(
        "reading the settings",
        settings.bucket,
        read_bucket_state,
        client=client,
        bucket=settings.bucket,
        skip=settings.skip,
    )
    return BucketReport(
        bucket=settings.bucket, drift=compare(settings.desired(), actual), skipped=settings.skip
    )


def apply_bucket(client: Any, settings: BucketSettings, *, create: bool = False) -> BucketReport:
    """Bring the bucket to the desired settings, changing only what differs (a second run changes nothing).

    Validation comes first, so invalid settings change nothing. Versioning goes before Object Lock (S3 needs
    it), and the bucket is created with Object Lock when `create` is set and it does not exist yet.
    """
    _require_valid(settings)
    bucket = settings.bucket
    report = BucketReport(bucket=bucket, skipped=settings.skip)
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            _call("reading", bucket, client.head_bucket, Bucket=bucket)
        if not create:
            raise BucketPolicyError(
                f"bucket {bucket!r} does not exist: `usage-archive bucket apply --create` "
                "creates it with Object Lock"
            ) from None
        _call("creating", bucket, client.create_bucket, Bucket=bucket, ObjectLockEnabledForBucket=True)
        report.created = True
    drift = compare(
        settings.desired(),
        _call(
            "reading the settings",
            bucket,
            read_bucket_state,
            client=client,
            bucket=bucket,
            skip=settings.skip,
        ),
    )
    changed = {d.setting.split(".")[0].split("[")[0] for d in drift}
    if "versioning" in changed:
        _call(
            "enabling versioning",
            bucket,
            client.put_bucket_versioning,
            Bucket=bucket,
            VersioningConfiguration={"Status": "Enabled"},
        )
        report.applied.append("versioning: Enabled")
    if "object_lock" in changed:
        _call(
            "setting the Object Lock default retention",
            bucket,
            client.put_object_lock_configuration,
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {
                    "DefaultRetention": {"Mode": settings.object_lock_mode, "Days": settings.object_lock_days}
                },
            },
        )
        report.applied.append(f"object lock: {settings.object_lock_mode} {settings.object_lock_days} days")
    if "encryption" in changed:
        _call(
            "setting default encryption",
            bucket,
            client.put_bucket_encryption,
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": settings.encryption}}]
            },
        )
        report.applied.append(f"default encryption: {settings.encryption}")
    if "public_access_block" in changed:
        _call(
            "blocking public access",
            bucket,
            client.put_public_access_block,
            Bucket=bucket,
            PublicAccessBlockConfiguration=dict(PUBLIC_ACCESS_BLOCK),
        )
        report.applied.append("public access: all blocked")
    if "lifecycle" in changed:
        _call(
            "setting the lifecycle rules",
            bucket,
            client.put_bucket_lifecycle_configuration,
            Bucket=bucket,
            LifecycleConfiguration={"Rules": [r.to_s3() for r in settings.lifecycle_rules()]},
        )
        report.applied.append("lifecycle: " + ", ".join(r.rule_id for r in settings.lifecycle_rules()))
    report.drift = compare(settings.desired(), read_bucket_state(client, bucket, settings.skip))
    if report.drift:
        raise BucketPolicyError(
            f"bucket {bucket!r} still differs after apply: " + "; ".join(d.describe() for d in report.drift)
        )
    return report
