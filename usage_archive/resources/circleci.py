"""The CircleCI Usage API resource: CIRCLECI_TOKEN (secret), CIRCLECI_ORG_ID (one id or a comma-separated
list), CIRCLECI_API_URL. Poll and backoff intervals are fields so tests (and impatient operators) can shrink them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Optional

import dagster as dg
from pydantic import Field

from usage_archive.circleci.api import DEFAULT_API_URL, CircleCISettingsError, PollPolicy, UsageApiClient
from usage_archive.circleci.weekly import parse_org_ids


class CircleCIResource(dg.ConfigurableResource):
    """A Usage API client factory. The token is resolved at run time and never logged."""

    token: Optional[str] = Field(default=None, description="CIRCLECI_TOKEN: a personal API token (secret)")  # noqa: UP045
    org_ids: Optional[str] = Field(
        default=None, description="CIRCLECI_ORG_ID: organisation id(s), comma-separated"
    )  # noqa: UP045
    api_url: str = Field(default=DEFAULT_API_URL, description="CIRCLECI_API_URL")
    poll_initial_seconds: float = Field(default=15.0, description="first wait between polls of an export job")
    poll_max_seconds: float = Field(
        default=300.0, description="longest wait between polls (exponential backoff)"
    )
    poll_deadline_seconds: float = Field(
        default=3600.0, description="give up polling after this long; a rerun resumes the same export job"
    )
    rate_limit_wait_seconds: float = Field(default=360.0, description="wait after a 429 without Retry-After")
    max_rate_limit_waits: int = Field(default=6, description="429 answers tolerated per request")
    request_timeout_seconds: float = Field(default=60.0, description="HTTP timeout of one request")

    def org_id_list(self) -> tuple[str, ...]:
        return parse_org_ids(self.org_ids)

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
            rate_limit_wait_s=self.rate_limit_wait_seconds,
            max_rate_limit_waits=self.max_rate_limit_waits,
            request_timeout_s=self.request_timeout_seconds,
        )

    def get_client(self, log: Callable[[str], None] | None = None) -> UsageApiClient:
        if not self.token:
            raise CircleCISettingsError(
                "CIRCLECI_TOKEN is not set: create a personal API token in CircleCI (User Settings → Personal API "
                "Tokens) and set CIRCLECI_TOKEN"
            )
        return UsageApiClient(self.api_url, self.token, policy=self.policy(), log=log)


def build_circleci_resource() -> CircleCIResource:
    """From the environment: secrets as EnvVar (hidden in the UI), the API URL with its public default."""

    def env(name: str) -> str | dg.EnvVar | None:
        return dg.EnvVar(name) if os.environ.get(name) else None

    return CircleCIResource(
        token=env("CIRCLECI_TOKEN"),
        org_ids=env("CIRCLECI_ORG_ID"),
        api_url=env("CIRCLECI_API_URL") or DEFAULT_API_URL,
    )
