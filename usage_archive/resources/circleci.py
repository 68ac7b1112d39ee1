"""The CircleCI Usage API resource: configures and hands out the client (usage_archive/circleci/api.py) from
CIRCLECI_TOKEN (secret), CIRCLECI_ORG_ID (one id or a comma-separated list) and CIRCLECI_API_URL. Poll and retry
intervals are fields so tests (and impatient operators) can shrink them."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
from pydantic import Field

from usage_archive.circleci.api import (
    DEFAULT_RETRY,
    STATUS_CHECKS_PER_MINUTE,
    CircleCISettingsError,
    PollPolicy,
    UsageApiClient,
)
from usage_archive.retry import RetryPolicy
from usage_archive.settings import DEFAULT_CIRCLECI_API_URL, SettingsError, parse_org_ids


class CircleCIResource(dg.ConfigurableResource):
    """A Usage API client factory. The token is resolved at run time and never logged."""

    token: str | None = Field(default=None, description="CIRCLECI_TOKEN: a personal API token (secret)")
    org_ids: str | None = Field(
        default=None, description="CIRCLECI_ORG_ID: organisation id(s), comma-separated"
    )
    api_url: str = Field(default=DEFAULT_CIRCLECI_API_URL, description="CIRCLECI_API_URL")
    poll_initial_seconds: float = Field(default=15.0, description="first wait between polls of an export job")
    poll_max_seconds: float = Field(
        default=300.0, description="longest wait between polls (exponential backoff)"
    )
    poll_deadline_seconds: float = Field(
        default=3600.0, description="give up polling after this long; a rerun resumes the same export job"
    )
    rate_limit_wait_seconds: float = Field(
        default=DEFAULT_RETRY.rate_limit_wait_s, description="wait after a 429 without Retry-After"
    )
    max_rate_limit_waits: int = Field(
        default=DEFAULT_RETRY.max_rate_limit_waits, description="429 answers tolerated per request"
    )
    max_retries: int = Field(
        default=DEFAULT_RETRY.max_retries,
        description="further attempts after connection errors and 5xx answers",
    )
    retry_backoff_seconds: float = Field(
        default=DEFAULT_RETRY.backoff_initial_s,
        description="first wait after a connection error or 5xx (then doubling)",
    )
    request_timeout_seconds: float = Field(default=60.0, description="HTTP timeout of one request")
    status_checks_per_minute: int = Field(
        default=STATUS_CHECKS_PER_MINUTE,
        description="status checks of export jobs per minute and organisation (the Usage API allows 10)",
    )

    def org_id_list(self) -> tuple[str, ...]:
        try:
            return parse_org_ids(self.org_ids)
        except SettingsError as exc:
            raise CircleCISettingsError(str(exc)) from None

    def single_org_id(self) -> str:
        orgs = self.org_id_list()
        if not orgs:
            raise CircleCISettingsError(
                "CIRCLECI_ORG_ID is not set: give the organisation id (Organization Settings → Overview, or GET "
                "/api/v2/me/collaborations), or a comma-separated list of them"
            )
        return orgs[0]

    def policy(self) -> PollPolicy:
        return PollPolicy(
            initial_interval_s=self.poll_initial_seconds,
            max_interval_s=self.poll_max_seconds,
            deadline_s=self.poll_deadline_seconds,
            request_timeout_s=self.request_timeout_seconds,
        )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            max_rate_limit_waits=self.max_rate_limit_waits,
            backoff_initial_s=self.retry_backoff_seconds,
            rate_limit_wait_s=self.rate_limit_wait_seconds,
        )

    def get_client(self, log: Callable[[str], None] | None = None) -> UsageApiClient:
        if not self.token:
            raise CircleCISettingsError(
                "CIRCLECI_TOKEN is not set: create a personal API token in CircleCI (User Settings → Personal API "
                "Tokens) and set CIRCLECI_TOKEN"
            )
        return UsageApiClient(
            self.api_url,
            self.token,
            policy=self.policy(),
            retry=self.retry_policy(),
            log=log,
            status_checks_per_minute=self.status_checks_per_minute,
        )
