"""The CircleCI Usage API client: create an export job, poll it with backoff, download its parts.

Plain `requests`, no Dagster import. The token travels only in the `Circle-Token` header to the API host (never
to the presigned download URLs) and never appears in a message: every error text is scrubbed of it, and
presigned URLs are shown without their query string (their signature is a credential too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

DEFAULT_API_URL = "https://circleci.com/api/v2"
MAX_WINDOW = timedelta(
    days=31
)  # the API allows end ≤ start + 31 days (its text says 32: stay on the safe side)
MAX_AGE = timedelta(days=365)  # start no older than one year (the API keeps 13 months; its spec says a year)
DOWNLOAD_CHUNK = 1 << 20


class CircleCIError(RuntimeError):
    """A Usage API failure; the message says what to fix and never contains the token."""


class CircleCISettingsError(CircleCIError):
    """A setting is wrong or missing (401/403/404, or CIRCLECI_TOKEN / CIRCLECI_ORG_ID unset)."""


class ExportJobNotFound(CircleCISettingsError):
    """GET of a known export job answered 404 (expired, or the org id is wrong)."""


class ExportFailed(CircleCIError):
    """CircleCI reports the export job as failed."""


class ExportNotReady(CircleCIError):
    """The poll deadline passed while the job was still running; a rerun resumes the same job."""


class RateLimited(CircleCIError):
    """429 more often than the configured number of waits."""


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
    """How long and how often to wait. Tests shrink every interval to milliseconds."""

    initial_interval_s: float = 15.0
    max_interval_s: float = 300.0
    backoff: float = 2.0
    deadline_s: float = 3600.0
    rate_limit_wait_s: float = 360.0  # POST is limited to 10 per hour per org
    max_rate_limit_waits: int = 6
    server_error_retries: int = 4
    request_timeout_s: float = 60.0


def export_window(week_start: datetime, days: int = 7) -> tuple[datetime, datetime]:
    """The inclusive window of a period: its first instant to the last second before the next period."""
    start = week_start.astimezone(timezone.utc)
    return start, start + timedelta(days=days) - timedelta(seconds=1)


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
            "Import an export you already have instead (put it under circleci-usage-data/incoming/)"
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
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not token:
            raise CircleCISettingsError(
                "CIRCLECI_TOKEN is not set: create a personal API token in CircleCI "
                "(User Settings → Personal API Tokens) and set CIRCLECI_TOKEN"
            )
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.policy = policy or PollPolicy()
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.log = log or (lambda message: None)
        self.posts = 0  # export jobs created by this client (tests and metadata)

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

    def _request(self, method: str, org_id: str, job_id: str | None = None, body: dict | None = None) -> dict:
        """One API call with the retry rules: 429 waits (Retry-After when given), 5xx and connection errors
        retry a few times, 401/403/404 fail at once with what to fix, other 4xx fail with CircleCI's message."""
        rate_limited = server_errors = 0
        url = self._url(org_id, job_id)
        what = f"{method} {url}"
        while True:
            try:
                response = self.session.request(
                    method,
                    url,
                    json=body,
                    timeout=self.policy.request_timeout_s,
                    headers={"Circle-Token": self._token, "Accept": "application/json"},
                )
            except requests.RequestException as exc:
                server_errors += 1
                if server_errors > self.policy.server_error_retries:
                    raise CircleCIError(
                        f"{what} failed: {self._scrub(type(exc).__name__ + ': ' + str(exc))}"
                    ) from None
                self.sleep(self.policy.initial_interval_s * server_errors)
                continue
            status = response.status_code
            if status in (200, 201, 202):
                try:
                    return response.json()
                except ValueError:
                    raise CircleCIError(f"{what} answered {status} with a body that is not JSON") from None
            if status in (401, 403, 404):
                raise self._settings_error(response, org_id, job_id)
            if status == 429:
                rate_limited += 1
                if rate_limited > self.policy.max_rate_limit_waits:
                    raise RateLimited(
                        f"{what}: still rate limited (429) after {rate_limited - 1} waits; the Usage API allows "
                        "10 export jobs per hour per organisation: run this partition again later"
                    )
                wait = _retry_after(response) or self.policy.rate_limit_wait_s
                self.log(f"CircleCI rate limit (429) on {method}; waiting {wait:.0f} s")
                self.sleep(wait)
                continue
            if status >= 500:
                server_errors += 1
                if server_errors > self.policy.server_error_retries:
                    raise CircleCIError(
                        f"{what} answered {status} {self._message(response)} {server_errors} times"
                    )
                self.sleep(self.policy.initial_interval_s * server_errors)
                continue
            raise CircleCIError(f"{what} was refused with {status}: {self._message(response)}")

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
                    f"CircleCI export job {job_id} failed: {job.error_reason or 'no reason given'}"
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
        for attempt in range(self.policy.server_error_retries + 1):
            try:
                # A plain request: the token must not travel to the storage host.
                with requests.get(url, stream=True, timeout=self.policy.request_timeout_s) as response:
                    if response.status_code >= 500 and attempt < self.policy.server_error_retries:
                        self.sleep(self.policy.initial_interval_s * (attempt + 1))
                        continue
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
                if attempt >= self.policy.server_error_retries:
                    raise CircleCIError(
                        f"download of {label} ({shown}) failed: {type(exc).__name__}"
                    ) from None
                self.sleep(self.policy.initial_interval_s * (attempt + 1))
        raise CircleCIError(f"download of {label} ({shown}) kept failing")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
