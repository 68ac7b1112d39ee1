"""The `github` resource: configures and hands out the GitHub client (usage_archive/github_actions/client.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg
from pydantic import Field, PrivateAttr

from usage_archive.github_actions.client import GitHubClient, GitHubNotConfigured
from usage_archive.github_actions.rates import RateTable, load_rates
from usage_archive.settings import DEFAULT_GITHUB_API_URL, DEFAULT_REPOSITORIES_FILE


class GitHubResource(dg.ConfigurableResource):
    """GITHUB_TOKEN (a secret), GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3), the
    repositories file USAGE_ARCHIVE_REPOSITORIES, your rates file USAGE_ARCHIVE_RATES and the enterprise whose
    billing usage is read as well, GITHUB_ENTERPRISE."""

    token: str | None = Field(default=None, description="GITHUB_TOKEN; a secret, never logged")
    api_url: str = Field(default=DEFAULT_GITHUB_API_URL, description="GITHUB_API_URL")
    repositories_file: str = Field(
        default=DEFAULT_REPOSITORIES_FILE, description="USAGE_ARCHIVE_REPOSITORIES"
    )
    rates_file: str | None = Field(
        default=None,
        description="USAGE_ARCHIVE_RATES: a rates CSV whose runners replace the shipped rates "
        "(usage_archive/github_actions/rates.csv); none: the shipped rates",
    )
    enterprise: str | None = Field(
        default=None,
        description="GITHUB_ENTERPRISE: the enterprise slug whose billing usage is read besides the "
        "organisations'; none: organisations only",
    )
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

    def get_rates(self) -> RateTable:
        """The shipped rates, with the runners of USAGE_ARCHIVE_RATES taken from that file (RatesFileError
        names the file and line of a problem)."""
        return load_rates(self.rates_file)
