"""The CircleCI Usage API client: create an export job, poll it with backoff, download its parts.

Plain `requests`, no Dagster import. Connection errors, 5xx answers and 429 (waiting its Retry-After) are retried
by the shared policy (usage_archive/retry.py). Status checks (GET of an export job) stay within the API's 10 per
minute per organisation: the client waits before one that would exceed it (`StatusCheckBudget`). The token travels only in the `Circle-Token` header to the API host (never
to the presigned download URLs) and never appears in a message: every error text is scrubbed of it, and
presigned URLs are shown without their query string (their signature is a credential too).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests

from usage_archive.archive.layout import CIRCLECI_INCOMING_PREFIX
from usage_archive.retry import RetryPolicy, Transient, WaitTooLong, call_with_retries, raise_if_transient

MAX_WINDOW = timedelta(
    days=31
)  # the API allows end ≤ start + 31 days (its text says 32: stay on the safe side)
MAX_AGE = timedelta(days=365)  # start no older than one year (the API keeps 13 months; its spec says a year)
STATUS_CHECKS_PER_MINUTE = 10  # GET of an export job, per organisation (the API's limit)
DOWNLOAD_CHUNK = 1 << 20
# How CircleCI words a job that failed because its result passed the 100 MB cap is not documented: these are
# the words such a reason can hardly do without. A match is retried as two half windows (weekly.py).
_TOO_LARGE = re.compile(r"too (?:large|big)|\bsize\b|\b\d+\s*[MG]i?B\b", re.IGNORECASE)
T = TypeVar("T")


class CircleCIError(RuntimeError):
    """A Usage API failure; the message says what to fix and never contains the token."""


class CircleCISettingsError(CircleCIError):
    """A setting is wrong or missing (401/403/404, or CIRCLECI_TOKEN / CIRCLECI_ORG_ID unset)."""


class ExportJobNotFound(CircleCISettingsError):
    """GET of a known export job answered 404 (expired, or the org id is wrong)."""


class ExportFailed(CircleCIError):
    """CircleCI reports the export job as failed; `reason` is its error_reason."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def result_too_large(self) -> bool:
        """The job failed because its result passed the API's size cap (a shorter window may pass)."""
        return is_result_too_large(self.reason)


class ExportNotReady(CircleCIError):
    """The poll deadline passed while the job was still running; a rerun resumes the same job."""


class RateLimited(CircleCIError):
    """429 more often than the retry policy waits out."""


class ExportWindowError(ValueError):
    """The export window is outside what the Usage API accepts."""


@dataclass(frozen=True)
class ExportJob:
    job_id: str
    state: str
    download_urls: tuple[str, ...] = ()
    error_reason: str | None = None

    @property
    def ready(self) -> bool:
        """`completed` alone is not enough: CircleCI sometimes reports it before the URLs exist."""
        return self.state == "completed" and bool(self.download_urls)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ExportJob:
        job_id = body.get("usage_export_job_id") or body.get("id")
        if not job_id:
            raise CircleCIError(
                f"the Usage API answered without a usage_export_job_id (keys: {sorted(body)})"
            )
        return cls(
            job_id=str(job_id),
            state=str(body.get("state") or "unknown"),
            download_urls=tuple(body.get("download_urls") or ()),
            error_reason=body.get("error_reason"),
        )


@dataclass(frozen=True)
class PollPolicy:
    """How long and how often to poll an export job. Tests shrink every interval to milliseconds."""

    initial_interval_s: float = 15.0
    max_interval_s: float = 300.0
    backoff: float = 2.0
    deadline_s: float = 3600.0
    request_timeout_s: float = 60.0


# POST is limited to 10 export jobs per hour per organisation: a 429 without Retry-After waits six minutes.
DEFAULT_RETRY = RetryPolicy(rate_limit_wait_s=360.0)


def is_result_too_large(reason: str | None) -> bool:
    """Whether a failed job's error_reason says its result was too large (see _TOO_LARGE)."""
    return bool(reason and _TOO_LARGE.search(reason))


class StatusCheckBudget:
    """At most `limit` status checks per organisation in any `period_s` seconds (a sliding window).

    `acquire` waits, through the client's `sleep`, until a check fits. The times are those the checks were
    planned for, so a fake clock that `sleep` does not move still gives a bounded plan (and a test can read
    it), and a real wait never happens twice for one check."""

    def __init__(
        self,
        limit: int = STATUS_CHECKS_PER_MINUTE,
        period_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError(f"a status check budget needs a limit of at least 1, not {limit}")
        self.limit = limit
        self.period_s = period_s
        self.clock = clock
        self.sleep = sleep
        self._checks: dict[str, deque[float]] = {}

    def acquire(self, org_id: str) -> float:
        """Wait until one more check of `org_id` fits; returns the seconds waited."""
        checks = self._checks.setdefault(org_id, deque())
        now = self.clock()
        if checks:
            now = max(now, checks[-1])  # never before a check already planned
        while checks and checks[0] <= now - self.period_s:
            checks.popleft()
        wait = 0.0
        if len(checks) >= self.limit:
            wait = checks[-self.limit] + self.period_s - now
            self.sleep(wait)
            now += wait
        checks.append(now)
        return wait


def validate_window(start: datetime, end: datetime, now: datetime | None = None) -> None:
    """Refuse locally what the API would refuse (or silently truncate), before spending a rate-limited POST."""
    now = now or datetime.now(timezone.utc)
    if start.tzinfo is None or end.tzinfo is None:
        raise ExportWindowError("export window bounds need a time zone (UTC)")
    if end < start:
        raise ExportWindowError(
            f"export window ends ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M})"
        )
    if end - start > MAX_WINDOW:
        raise ExportWindowError(
            f"export window {start:%Y-%m-%d}..{end:%Y-%m-%d} is longer than the API's 31 days"
        )
    if start < now - MAX_AGE:
        raise ExportWindowError(
            f"export window starts {start:%Y-%m-%d}, more than a year ago: the Usage API no longer serves it. "
            f"Import an export you already have instead (put it under {CIRCLECI_INCOMING_PREFIX}/)"
        )
    if end > now:
        raise ExportWindowError(
            f"export window ends {end:%Y-%m-%d %H:%M} UTC, in the future: the week is not over"
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def redact_url(url: str) -> str:
    """A presigned URL without its query string (the signature)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class UsageApiClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        policy: PollPolicy | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
        status_checks_per_minute: int = STATUS_CHECKS_PER_MINUTE,
    ) -> None:
        if not token:
            raise CircleCISettingsError(
                "CIRCLECI_TOKEN is not set: create a personal API token in CircleCI "
                "(User Settings → Personal API Tokens) and set CIRCLECI_TOKEN"
            )
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.policy = policy or PollPolicy()
        self.retry = retry
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.log = log or (lambda message: None)
        self.posts = 0  # export jobs created by this client (tests and metadata)
        self.status_budget = StatusCheckBudget(status_checks_per_minute, clock=clock, sleep=sleep)

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _url(self, org_id: str, job_id: str | None = None) -> str:
        url = f"{self.base_url}/organizations/{quote(org_id, safe='')}/usage_export_job"
        return f"{url}/{quote(job_id, safe='')}" if job_id else url

    def _message(self, response: requests.Response) -> str:
        try:
            body = response.json()
            message = body.get("message") if isinstance(body, dict) else None
        except ValueError:
            message = None
        return self._scrub(str(message or response.text[:200] or response.reason))

    def _settings_error(self, response: requests.Response, org_id: str, job_id: str | None) -> CircleCIError:
        status = response.status_code
        message = self._message(response)
        if status == 401:
            return CircleCISettingsError(
                f"CircleCI answered 401 Unauthorized ({message}): CIRCLECI_TOKEN is missing, revoked or not a "
                "personal API token"
            )
        if status == 403:
            return CircleCISettingsError(
                f"CircleCI answered 403 Forbidden for organisation {org_id} ({message}): the CIRCLECI_TOKEN user "
                "may not read this organisation's usage; check CIRCLECI_ORG_ID and the user's role"
            )
        if job_id:
            return ExportJobNotFound(
                f"CircleCI answered 404 for export job {job_id} of organisation {org_id} ({message}): the job "
                "expired or CIRCLECI_ORG_ID is wrong"
            )
        return CircleCISettingsError(
            f"CircleCI answered 404 Not Found for organisation {org_id} at {self.base_url} ({message}): check "
            "CIRCLECI_ORG_ID (the organisation id from GET /me/collaborations) and CIRCLECI_API_URL"
        )

    def _retrying(self, attempt: Callable[[], T], what: str) -> T:
        """`attempt` under the shared retry policy; a rate limit that outlasts it says what to do."""
        try:
            return call_with_retries(
                attempt, self.retry, sleep=self.sleep, log=lambda m: self.log(f"CircleCI {m}")
            )
        except WaitTooLong as exc:
            raise RateLimited(
                f"{what}: CircleCI asks to wait {exc.wait:.0f} s, longer than "
                f"{self.retry.max_wait_s:.0f} s: run this partition again later"
            ) from None
        except Transient as exc:
            if exc.rate_limited:
                raise RateLimited(
                    f"{what}: still rate limited (429) after {self.retry.max_rate_limit_waits} waits; the Usage API "
                    "allows 10 export jobs per hour per organisation: run this partition again later"
                ) from None
            raise CircleCIError(
                f"{what} failed after {self.retry.max_retries + 1} attempts: {exc.reason}"
            ) from None

    def _request(self, method: str, org_id: str, job_id: str | None = None, body: dict | None = None) -> dict:
        """One API call: connection errors, 5xx and 429 are retried (shared policy), 401/403/404 fail at once
        with what to fix, other 4xx fail with CircleCI's message."""
        url = self._url(org_id, job_id)
        what = f"{method} {url}"

        def attempt() -> dict:
            if method == "GET" and job_id:  # every attempt counts, retries too
                waited = self.status_budget.acquire(org_id)
                if waited > 0:
                    self.log(
                        f"waited {waited:.0f} s before checking export job {job_id}: the Usage API allows "
                        f"{self.status_budget.limit} status checks a minute per organisation"
                    )
            try:
                response = self.session.request(
                    method,
                    url,
                    json=body,
                    timeout=self.policy.request_timeout_s,
                    headers={"Circle-Token": self._token, "Accept": "application/json"},
                )
            except requests.RequestException as exc:
                raise Transient(self._scrub(f"{type(exc).__name__}: {exc}")) from None
            status = response.status_code
            if status in (200, 201, 202):
                try:
                    return response.json()
                except ValueError:
                    raise CircleCIError(f"{what} answered {status} with a body that is not JSON") from None
            if status in (401, 403, 404):
                raise self._settings_error(response, org_id, job_id)
            raise_if_transient(response, f"{method} ({status} {self._message(response)})")
            raise CircleCIError(f"{what} was refused with {status}: {self._message(response)}")

        return self._retrying(attempt, what)

    # -- the API ----------------------------------------------------------------------------------------------
    def create_export(
        self, org_id: str, start: datetime, end: datetime, *, now: datetime | None = None
    ) -> ExportJob:
        validate_window(start, end, now)
        job = ExportJob.from_json(
            self._request("POST", org_id, body={"start": _iso(start), "end": _iso(end)})
        )
        self.posts += 1
        self.log(f"created CircleCI usage export job {job.job_id} for {_iso(start)}..{_iso(end)}")
        return job

    def get_export(self, org_id: str, job_id: str) -> ExportJob:
        return ExportJob.from_json(self._request("GET", org_id, job_id))

    def wait_for_export(self, org_id: str, job_id: str) -> ExportJob:
        """Poll with exponential backoff until the job is completed with download URLs."""
        deadline = self.clock() + self.policy.deadline_s
        interval = self.policy.initial_interval_s
        while True:
            job = self.get_export(org_id, job_id)
            if job.ready:
                return job
            if job.state == "failed":
                raise ExportFailed(
                    f"CircleCI export job {job_id} failed: {job.error_reason or 'no reason given'}",
                    job.error_reason,
                )
            if job.state not in ("created", "processing", "completed"):
                raise CircleCIError(f"CircleCI export job {job_id} is in an unknown state {job.state!r}")
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise ExportNotReady(
                    f"CircleCI export job {job_id} is still {job.state!r} after {self.policy.deadline_s:.0f} s; "
                    "run the partition again later: it resumes this job without creating a new one"
                )
            self.log(
                f"export job {job_id} is {job.state}"
                + (" without download URLs yet" if job.state == "completed" else "")
                + f"; next poll in {min(interval, remaining):.0f} s"
            )
            self.sleep(min(interval, remaining))
            interval = min(interval * self.policy.backoff, self.policy.max_interval_s)

    def download(self, url: str, dest: str | Path, *, label: str) -> int:
        """Stream one presigned part to `dest` (bytes as served, still gzip); returns its size."""
        shown = redact_url(url)

        def attempt() -> int:
            try:
                # A plain request: the token must not travel to the storage host.
                with requests.get(url, stream=True, timeout=self.policy.request_timeout_s) as response:
                    raise_if_transient(response, f"download of {label}")
                    if response.status_code != 200:
                        raise CircleCIError(
                            f"download of {label} ({shown}) answered {response.status_code}: the presigned URL may "
                            "have expired; run the partition again to fetch fresh URLs"
                        )
                    size = 0
                    with open(dest, "wb") as fh:
                        for chunk in response.raw.stream(DOWNLOAD_CHUNK, decode_content=False):
                            fh.write(chunk)
                            size += len(chunk)
                    return size
            except requests.RequestException as exc:
                raise Transient(f"download of {label}: {type(exc).__name__}") from None

        return self._retrying(attempt, f"download of {label} ({shown})")
