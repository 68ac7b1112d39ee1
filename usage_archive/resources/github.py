"""The GitHub REST API client for workflow runs and jobs, and the `github` resource that builds it.

Rate limits (GitHub docs "Rate limits for the REST API"): when `x-ratelimit-remaining` is 0, wait until
`x-ratelimit-reset`; when a 403/429 carries `retry-after`, wait that many seconds; a secondary limit without
headers waits at least a minute, longer on each repeat. Every wait goes through the injectable `sleep`/`clock`
and is capped: a reset past `max_wait_seconds` is an error, and a retried run resumes (see github_actions.collect).
The token travels only in the Authorization header: never in URLs, logs or error messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any, Optional

import dagster as dg
import requests
from pydantic import Field, PrivateAttr

from usage_archive.github_actions.windows import RESULT_CAP, Window

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100


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
        api_url: str = DEFAULT_API_URL,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_wait_seconds: float = 3900,
        secondary_wait_seconds: float = 60,
        max_attempts: int = 6,
        timeout_seconds: float = 30,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not token:
            raise GitHubNotConfigured("GITHUB_TOKEN is empty")
        self.api_url = api_url.rstrip("/")
        self.sleep = sleep
        self.clock = clock
        self.max_wait_seconds = max_wait_seconds
        self.secondary_wait_seconds = secondary_wait_seconds
        self.max_attempts = max_attempts
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
    def get(self, path_or_url: str, params: dict[str, Any] | None = None, *, what: str) -> requests.Response:
        """GET with rate-limit handling; `what` names the call in errors (e.g. 'repository octo/api')."""
        url = (
            path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self.api_url}{path_or_url}"
        )
        call = f"GET {url.split('?')[0]}"
        limited = 0
        for attempt in range(1, self.max_attempts + 1):
            self._respect_primary_limit()
            try:
                response = self._session.get(url, params=params, timeout=self.timeout_seconds)
            except requests.RequestException as exc:
                if attempt == self.max_attempts:
                    raise GitHubError(f"{call} ({what}) failed: {type(exc).__name__}") from None
                self._wait(min(2**attempt, 60), f"connection error on {call}")
                continue
            self.requests_made += 1
            self._note_budget(response)
            status = response.status_code
            if status == 200:
                return response
            if status == 401:
                raise GitHubAuthError(
                    f"GITHUB_TOKEN is invalid or expired (401 {_message(response)!r} from {call})"
                )
            if status == 404:
                raise GitHubNotFound(
                    f"{what}: 404 Not Found from {call} (it does not exist, or the token "
                    "cannot see it: check the token's repository access)"
                )
            if status in (403, 429):
                retry_after = response.headers.get("retry-after")
                if retry_after and retry_after.isdigit():
                    limited += 1
                    self._wait(float(retry_after), f"secondary rate limit ({status}) on {call}")
                    continue
                if response.headers.get("x-ratelimit-remaining") == "0" and self._blocked_until is not None:
                    limited += 1
                    continue  # _respect_primary_limit waits for the reset before the next attempt
                message = _message(response)
                if (
                    status == 429
                    or "rate limit" in message.lower()
                    or response.headers.get("x-ratelimit-remaining") == "0"
                ):
                    limited += 1
                    self._wait(
                        self.secondary_wait_seconds * 2 ** (limited - 1),
                        f"secondary rate limit ({status}) on {call}",
                    )
                    continue
                raise GitHubPermissionError(
                    f"{what}: 403 {message!r} from {call} (the token lacks a permission: "
                    "Actions: read and Metadata: read are needed)"
                )
            if status >= 500 and attempt < self.max_attempts:
                self._wait(min(2**attempt, 60), f"{status} from {call}")
                continue
            raise GitHubError(f"{what}: {status} {_message(response)!r} from {call}")
        raise GitHubRateLimitError(f"{what}: still rate limited after {self.max_attempts} attempts of {call}")

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


class GitHubResource(dg.ConfigurableResource):
    """GITHUB_TOKEN (a secret), GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3) and the
    repositories file USAGE_ARCHIVE_REPOSITORIES."""

    token: Optional[str] = Field(default=None, description="GITHUB_TOKEN; a secret, never logged")  # noqa: UP045
    api_url: str = Field(default=DEFAULT_API_URL, description="GITHUB_API_URL")
    repositories_file: str = Field(default="repositories.yml", description="USAGE_ARCHIVE_REPOSITORIES")
    max_rate_limit_wait_seconds: float = Field(
        default=3900,
        description="longest wait for a rate-limit reset before the run fails (and can be retried); "
        "the primary limit resets hourly, so the default waits out a full window",
    )
    secondary_limit_wait_seconds: float = Field(default=60, description="first wait after a secondary limit")
    request_timeout_seconds: float = Field(default=30)
    max_attempts: int = Field(
        default=6, description="attempts per request (rate limits, 5xx, connection errors)"
    )

    _sleep: Callable[[float], None] = PrivateAttr(default=time.sleep)
    _clock: Callable[[], float] = PrivateAttr(default=time.time)

    def with_clock(self, sleep: Callable[[float], None], clock: Callable[[], float]) -> GitHubResource:
        """The same resource with another sleep/clock (tests make rate-limit waits instant)."""
        copy = self.model_copy()
        copy._sleep, copy._clock = sleep, clock
        return copy

    def get_client(self, log: Callable[[str], None] | None = None) -> GitHubClient:
        if not self.token:
            raise GitHubNotConfigured(
                "GITHUB_TOKEN is not set: the GitHub Actions assets need a token with Actions: read and "
                "Metadata: read on the configured repositories (see docs/github_actions.md)"
            )
        return GitHubClient(
            self.token,
            self.api_url,
            sleep=self._sleep,
            clock=self._clock,
            max_wait_seconds=self.max_rate_limit_wait_seconds,
            secondary_wait_seconds=self.secondary_limit_wait_seconds,
            max_attempts=self.max_attempts,
            timeout_seconds=self.request_timeout_seconds,
            log=log,
        )


def build_github_resource() -> GitHubResource:
    """The `github` resource from GITHUB_TOKEN, GITHUB_API_URL and USAGE_ARCHIVE_REPOSITORIES."""
    from usage_archive.resources import env_or_default

    return GitHubResource(
        token=env_or_default("GITHUB_TOKEN", None),
        api_url=env_or_default("GITHUB_API_URL", DEFAULT_API_URL),
        repositories_file=env_or_default("USAGE_ARCHIVE_REPOSITORIES", "repositories.yml"),
    )
