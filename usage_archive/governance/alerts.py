"""Failure alerts for a Slack-compatible incoming webhook (no Dagster import).

The payload has a plain `text` (what Slack, Mattermost, Rocket.Chat and Teams' Slack-compatible hooks show)
plus Slack `blocks`. Error texts are redacted before they leave: known secret values from the environment and
passwords inside URLs become `***`. The webhook URL is itself a secret (its path is the credential) and never
appears in a message or an exception.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlparse

SECRET_ENV_VARS = (
    "ALERT_WEBHOOK_URL",
    "CIRCLECI_TOKEN",
    "GITHUB_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "DAGSTER_PG_PASSWORD",
    "BILLING_DATABASE_URL",
)
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)([^@\s]+)(@)", re.IGNORECASE)
MAX_ERROR_CHARS = 1500
DEFAULT_UI_URL = "http://localhost:3000"


class AlertError(RuntimeError):
    """The webhook did not accept the alert (the message names the host and status, never the URL path)."""


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    values = []
    for name in SECRET_ENV_VARS:
        value = (env.get(name) or "").strip()
        match = URL_PASSWORD.search(value)
        if match:  # a database URL: only its password is secret, host and database help the reader
            if len(match.group(2)) >= 4:
                values.append(match.group(2))
        elif len(value) >= 4:
            values.append(value)
    return sorted(set(values), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return URL_PASSWORD.sub(r"\1***\3", text)


def run_url(ui_url: str, run_id: str) -> str:
    return f"{(ui_url or DEFAULT_UI_URL).rstrip('/')}/runs/{run_id}"


def failure_alert(
    *,
    job_name: str,
    run_id: str,
    error: str,
    partition: str | None = None,
    ui_url: str = DEFAULT_UI_URL,
    location: str | None = None,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """The webhook payload for a failed run: job, partition, error (redacted, shortened) and the run's link."""
    clean = redact(error or "no error message", secrets).strip()
    if len(clean) > MAX_ERROR_CHARS:
        clean = clean[:MAX_ERROR_CHARS] + " …"
    link = run_url(ui_url, run_id)
    where = f" in {location}" if location else ""
    headline = (
        f":rotating_light: Dagster run failed: {job_name}" + (f" [{partition}]" if partition else "") + where
    )
    text = f"{headline}\nError: {clean}\nRun: {link}"
    fields = [
        {"type": "mrkdwn", "text": f"*Job*\n{job_name}"},
        {"type": "mrkdwn", "text": f"*Partition*\n{partition or '-'}"},
    ]
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{clean}```"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open the run in Dagster>"}},
        ],
    }


def post_alert(url: str, payload: dict[str, Any], *, timeout: float = 10.0) -> None:
    """POST the payload as JSON; any failure raises AlertError without the URL's secret path."""
    import requests

    host = urlparse(url).netloc or "the webhook"
    try:
        response = requests.post(url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise AlertError(f"alert webhook at {host} unreachable: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise AlertError(f"alert webhook at {host} answered HTTP {response.status_code}")


def summary_alert(
    title: str, lines: list[str], *, link: str | None = None, secrets: Iterable[str] = ()
) -> dict[str, Any]:
    """A short notice (a stale partition, a completed restore): a title, bullet lines, an optional link."""
    body = "\n".join(f"• {redact(line, secrets)}" for line in lines)
    text = f"{title}\n{body}" + (f"\n{link}" if link else "")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{body}"}}
    ]
    if link:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open in Dagster>"}})
    return {"text": text, "blocks": blocks}
