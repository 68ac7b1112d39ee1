"""The alert webhook resource: ALERT_WEBHOOK_URL (a Slack-compatible incoming webhook) and DAGSTER_UI_URL."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from usage_archive.governance.alerts import (
    DEFAULT_UI_URL,
    failure_alert,
    post_alert,
    secret_values,
    summary_alert,
)


class AlertWebhookResource(dg.ConfigurableResource):
    """Posts alerts when a webhook is configured; without one, alerts only go to the Dagster log."""

    webhook_url: str | None = Field(
        default=None, description="ALERT_WEBHOOK_URL (secret: its path is the token)"
    )
    ui_url: str = Field(default=DEFAULT_UI_URL, description="DAGSTER_UI_URL: base of the run links in alerts")
    timeout_seconds: float = Field(default=10.0, description="how long to wait for the webhook")

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url)

    def _secrets(self) -> list[str]:
        return sorted(
            {*secret_values(), *([self.webhook_url] if self.webhook_url else [])}, key=len, reverse=True
        )

    def send_failure(
        self,
        *,
        job_name: str,
        run_id: str,
        error: str,
        partition: str | None = None,
        location: str | None = None,
    ) -> dict[str, Any]:
        """Build the redacted alert and post it (when a webhook is configured); returns the payload."""
        payload = failure_alert(
            job_name=job_name,
            run_id=run_id,
            error=error,
            partition=partition,
            ui_url=self.ui_url,
            location=location,
            secrets=self._secrets(),
        )
        if self.webhook_url:
            post_alert(self.webhook_url, payload, timeout=self.timeout_seconds)
        return payload

    def send_text(self, title: str, lines: list[str], link: str | None = None) -> dict[str, Any]:
        payload = summary_alert(title, lines, link=link, secrets=self._secrets())
        if self.webhook_url:
            post_alert(self.webhook_url, payload, timeout=self.timeout_seconds)
        return payload


def build_alert_webhook() -> AlertWebhookResource:
    from usage_archive.resources import env_or_default

    return AlertWebhookResource(
        webhook_url=env_or_default("ALERT_WEBHOOK_URL", None),
        ui_url=env_or_default("DAGSTER_UI_URL", DEFAULT_UI_URL),
    )
