"""The GitHub REST API client for workflow runs and jobs (no Dagster import; the `github` resource builds it).

Connection errors, 5xx answers and 429 with `retry-after` are retried by the shared policy (usage_archive/retry.py).
GitHub's own rate-limit rules (GitHub docs "Rate limits for the REST API") are handled here and fed to the same
loop: when `x-ratelimit-remaining` is 0, wait until `x-ratelimit-reset`; a 403 with `retry-after` waits that many
seconds; a secondary limit without headers waits at least a minute, longer on each repeat. Every wait goes through
the injectable `sleep`/`clock` and is capped: a reset past `max_wait_seconds` is an error, and a retried run
resumes (see github_actions.collect). The token travels only in the Authorization header: never in URLs, logs or
error messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from typing import Any

import requests

from usage_archive.github_actions.billing_usage import (
    ENTERPRISE,
    ORGANIZATION,
    UsageReport,
    parse_usage_response,
)
from usage_archive.github_actions.windows import RESULT_CAP, Window
from usage_archive.retry import RetryPolicy, Transient, WaitTooLong, call_with_retries, raise_if_transient
from usage_archive.settings import DEFAULT_GITHUB_API_URL

API_VERSION = "2022-11-28"
PER_PAGE = 100
# What the billing usage endpoints need ("Get billing usage report for an organization" / "… an enterprise").
BILLING_ACCESS = {
    ORGANIZATION: "reading {account}'s billing usage needs a token of an organisation owner or billing manager of "
    '{account}; a fine-grained token also needs the organisation permission "Administration: read", '
    "and the organisation must be on GitHub's enhanced billing platform",
    ENTERPRISE: "reading enterprise {account}'s billing usage needs a token of an enterprise owner or billing "
    "manager of {account} (GITHUB_ENTERPRISE is the enterprise's slug)",
}


class GitHubError(RuntimeError):
    """A GitHub API call failed; the message names the call and the cause, never the token."""


class GitHubNotConfigured(GitHubError):
    pass


class GitHubAuthError(GitHubError):
    pass


class GitHubNotFound(GitHubError):
    pass


class GitHubPermissionError(GitHubError):
    pass


class GitHubRateLimitError(GitHubError):
    pass


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


class GitHubClient:
    """Serial requests (GitHub asks integrations not to run them concurrently), pagination by `Link` headers."""

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_GITHUB_API_URL,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_wait_seconds: float = 3900,
        secondary_wait_seconds: float = 60,
        max_attempts: int = 6,
        timeout_seconds: float = 30,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """`max_attempts` bounds both the failures (connection errors, 5xx) and the rate-limited answers of one
        request; `max_wait_seconds` is the longest wait for a rate limit before the request fails."""
        if not token:
            raise GitHubNotConfigured("GITHUB_TOKEN is empty")
        self.api_url = api_url.rstrip("/")
        self.sleep = sleep
        self.clock = clock
        self.max_wait_seconds = max_wait_seconds
        self.secondary_wait_seconds = secondary_wait_seconds
        self.max_attempts = max_attempts
        self.retry = RetryPolicy(
            max_retries=max_attempts - 1, max_rate_limit_waits=max_attempts - 1, max_wait_s=max_wait_seconds
        )
        self.timeout_seconds = timeout_seconds
        self.log = log or (lambda _message: None)
        self.requests_made = 0
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "usage-archive",
                "Authorization": f"Bearer {token}",
            }
        )
        self._blocked_until: float | None = None  # the primary limit is used up until this epoch

    def __repr__(self) -> str:
        return f"GitHubClient({self.api_url!r})"

    def close(self) -> None:
        self._session.close()

    # -- waiting -------------------------------------------------------------------------------------------------
    def _wait(self, seconds: float, reason: str, resets_at: float | None = None) -> None:
        seconds = max(0.0, seconds)
        if seconds > self.max_wait_seconds:
            when = _iso(resets_at if resets_at is not None else self.clock() + seconds)
            raise GitHubRateLimitError(
                f"GitHub {reason}: the rate limit resets at {when}, which is past the max wait of "
                f"{self.max_wait_seconds:g} s; retry the run after that time (it resumes where it stopped)"
            )
        self.log(f"GitHub {reason}: waiting {seconds:.0f} s")
        self.sleep(seconds)

    def _respect_primary_limit(self) -> None:
        if self._blocked_until is not None:
            remaining = self._blocked_until - self.clock()
            if remaining > 0:
                self._wait(remaining + 1, "rate limit used up", self._blocked_until)
            self._blocked_until = None

    def _note_budget(self, response: requests.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        if remaining == "0" and reset and reset.isdigit():
            self._blocked_until = float(reset)

    # -- requests ------------------------------------------------------------------------------------------------
    def _check(
        self,
        response: requests.Response,
        call: str,
        what: str,
        secondary_limits: list[int],
        access_hint: str | None = None,
    ) -> requests.Response:
        """The response when it is a 200; otherwise raise what it means (Transient when worth another attempt).
        `secondary_limits` counts this call's secondary limits without headers: each waits twice as long;
        `access_hint` says what a 403/404 means for this call (default: the Actions permissions)."""
        status = response.status_code
        if status == 200:
            return response
        if status == 401:
            raise GitHubAuthError(
                f"GITHUB_TOKEN is invalid or expired (401 {_message(response)!r} from {call})"
            )
        if status == 404:
            hint = access_hint or "check the token's repository access"
            raise GitHubNotFound(
                f"{what}: 404 Not Found from {call} (it does not exist, or the token cannot see it: {hint})"
            )
        retry_after = response.headers.get("retry-after")
        if status == 403 and retry_after and retry_after.isdigit():
            raise Transient(
                f"secondary rate limit (403) on {call}",
                rate_limited=True,
                wait=float(retry_after),
                status=status,
            )
        if status in (403, 429) and not retry_after:
            remaining = response.headers.get("x-ratelimit-remaining")
            if remaining == "0" and self._blocked_until is not None:
                # Retry at once: _respect_primary_limit waits for the reset before the next request.
                raise Transient(f"rate limit used up on {call}", rate_limited=True, wait=0, status=status)
            message = _message(response)
            if status == 429 or "rate limit" in message.lower() or remaining == "0":
                secondary_limits.append(status)
                raise Transient(
                    f"secondary rate limit ({status}) on {call}",
                    rate_limited=True,
                    status=status,
                    wait=self.secondary_wait_seconds * 2 ** (len(secondary_limits) - 1),
                )
            raise GitHubPermissionError(
                f"{what}: 403 {message!r} from {call} (the token lacks a permission: "
                f"{access_hint or 'Actions: read and Metadata: read are needed'})"
            )
        raise_if_transient(response, f"{call} ({_message(response)!r})")
        raise GitHubError(f"{what}: {status} {_message(response)!r} from {call}")

    def get(
        self,
        path_or_url: str,
        params: dict[str, Any] | None = None,
        *,
        what: str,
        access_hint: str | None = None,
    ) -> requests.Response:
        """GET with rate-limit handling and retries; `what` names the call in errors (e.g. 'repository octo/api'),
        `access_hint` what a 403/404 means for this call (default: the Actions permissions)."""
        url = (
            path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self.api_url}{path_or_url}"
        )
        call = f"GET {url.split('?')[0]}"
        secondary_limits: list[int] = []

        def attempt() -> requests.Response:
            self._respect_primary_limit()
            try:
                response = self._session.get(url, params=params, timeout=self.timeout_seconds)
            except requests.RequestException as exc:
                raise Transient(f"{call} failed: {type(exc).__name__}") from None
            self.requests_made += 1
            self._note_budget(response)
            return self._check(response, call, what, secondary_limits, access_hint)

        try:
            return call_with_retries(
                attempt, self.retry, sleep=self.sleep, log=lambda m: self.log(f"GitHub {m}")
            )
        except WaitTooLong as exc:
            raise GitHubRateLimitError(
                f"GitHub {exc.cause.reason}: the rate limit resets at {_iso(self.clock() + exc.wait)}, which is past "
                f"the max wait of {self.max_wait_seconds:g} s; retry the run after that time (it resumes where it "
                "stopped)"
            ) from None
        except Transient as exc:
            if exc.rate_limited:
                raise GitHubRateLimitError(
                    f"{what}: still rate limited after {self.max_attempts} attempts of {call}"
                ) from None
            raise GitHubError(f"{what}: {exc.reason}") from None

    def pages(self, path: str, params: dict[str, Any], *, what: str) -> Iterator[requests.Response]:
        """The first page and every `rel="next"` page after it."""
        response = self.get(path, {**params, "per_page": PER_PAGE}, what=what)
        yield response
        while "next" in response.links:
            response = self.get(response.links["next"]["url"], what=what)
            yield response

    # -- endpoints -----------------------------------------------------------------------------------------------
    def list_org_repositories(self, organization: str) -> list[str]:
        """Every repository of an organisation (type=all: public, private and internal), as owner/name."""
        names: list[str] = []
        for page in self.pages(
            f"/orgs/{organization}/repos", {"type": "all"}, what=f"organization {organization}"
        ):
            names += [repo["full_name"] for repo in page.json()]
        return names

    def get_repository(self, repository: str) -> dict[str, Any]:
        """The repository JSON (`visibility`: public, private or internal)."""
        return self.get(f"/repos/{repository}", what=f"repository {repository}").json()

    def billing_usage(self, account: str, day: date, *, enterprise: bool = False) -> UsageReport:
        """Every item of one UTC day of an organisation's (or enterprise's) billing usage ledger, amounts as
        Decimal.

        A 403 or 404 names the access this endpoint needs (see BILLING_ACCESS)."""
        kind = ENTERPRISE if enterprise else ORGANIZATION
        path = f"/{kind}s/{account}/settings/billing/usage"
        what = f"{kind} {account} billing usage for {day:%Y-%m-%d}"
        response = self.get(
            path,
            {"year": day.year, "month": day.month, "day": day.day},
            what=what,
            access_hint=BILLING_ACCESS[kind].format(account=account),
        )
        return UsageReport(
            kind,
            account,
            day,
            parse_usage_response(response.content, source=f"GET {self.api_url}{path} ({what})"),
        )

    def list_workflows(self, repository: str) -> list[dict[str, Any]]:
        workflows: dict[int, dict[str, Any]] = {}
        for page in self.pages(f"/repos/{repository}/actions/workflows", {}, what=f"repository {repository}"):
            workflows.update({w["id"]: w for w in page.json()["workflows"]})
        return list(workflows.values())

    def list_runs(self, repository: str, window: Window) -> list[dict[str, Any]]:
        """Every workflow run created in the window, deduplicated by id; windows over the 1,000-result cap are
        split in halves until each fits."""
        what = f"repository {repository}"
        path = f"/repos/{repository}/actions/runs"
        params = {"created": window.created_filter(), "exclude_pull_requests": "true"}
        pages = self.pages(path, params, what=what)
        first = next(pages)
        total = int(first.json()["total_count"])
        if total > RESULT_CAP:
            if not window.splittable:
                raise GitHubError(
                    f"{what}: {total} runs were created within one second ({window.created_filter()}); "
                    f"GitHub lists at most {RESULT_CAP} per query, so they cannot all be collected"
                )
            self.log(f"{repository}: {total} runs in {window.created_filter()}, splitting the window")
            runs: dict[int, dict[str, Any]] = {}
            for half in window.split():
                runs.update({r["id"]: r for r in self.list_runs(repository, half)})
            return list(runs.values())
        runs = {r["id"]: r for r in first.json()["workflow_runs"]}
        for page in pages:
            runs.update({r["id"]: r for r in page.json()["workflow_runs"]})
        if len(runs) < total:
            raise GitHubError(
                f"{what}: GitHub reported {total} runs created {window.created_filter()} but listed "
                f"{len(runs)}; retry the run"
            )
        return list(runs.values())

    def list_jobs(self, repository: str, run_id: int) -> tuple[list[dict[str, Any]], int]:
        """Every job of every attempt of a run (filter=all) and the total GitHub reported."""
        jobs: dict[int, dict[str, Any]] = {}
        total = 0
        for page in self.pages(
            f"/repos/{repository}/actions/runs/{run_id}/jobs",
            {"filter": "all"},
            what=f"repository {repository} run {run_id}",
        ):
            body = page.json()
            total = int(body["total_count"])
            jobs.update({j["id"]: j for j in body["jobs"]})
        if len(jobs) != total:
            raise GitHubError(
                f"repository {repository} run {run_id}: GitHub reported {total} jobs but listed "
                f"{len(jobs)}; retry the run"
            )
        return list(jobs.values()), total
