"""Alert payloads and delivery to a local Slack-compatible webhook: content, redaction, failures."""

from __future__ import annotations

import pytest

from usage_archive.governance.alerts import AlertError, failure_alert, post_alert, redact, secret_values
from usage_archive_tests.fakes.webhook import FakeWebhook

TOKEN = "ghp_abcdefSECRET1234567890"


def test_failure_alert_names_job_partition_error_and_run_link() -> None:
    payload = failure_alert(
        job_name="billing_archive_job",
        run_id="r-123",
        partition="2025-01-01",
        error="TableMissingError: no table 'credits'",
        ui_url="https://dagster.example.com/",
    )
    assert payload["text"].startswith(":rotating_light: Dagster run failed: billing_archive_job [2025-01-01]")
    assert "TableMissingError: no table 'credits'" in payload["text"]
    assert "https://dagster.example.com/runs/r-123" in payload["text"]
    assert any(
        "<https://dagster.example.com/runs/r-123|" in b["text"]["text"]
        for b in payload["blocks"]
        if "text" in b
    )


def test_secrets_are_redacted_from_errors() -> None:
    env = {"GITHUB_TOKEN": TOKEN, "BILLING_DATABASE_URL": "postgresql://archiver:pa55word@db/billing"}
    error = (
        f"401 from GitHub with token {TOKEN}; could not connect to "
        "postgresql://archiver:pa55word@db/billing and postgresql://other:hunter22@x/y"
    )
    text = failure_alert(job_name="j", run_id="r", error=error, secrets=secret_values(env))["text"]
    assert TOKEN not in text and "pa55word" not in text and "hunter22" not in text
    assert "postgresql://archiver:***@db/billing" in text and "token ***" in text
    assert redact("nothing secret here") == "nothing secret here"


def test_long_errors_are_shortened() -> None:
    text = failure_alert(job_name="j", run_id="r", error="x" * 5000)["text"]
    assert len(text) < 1700 and "x …" in text


def test_post_alert_delivers_json_and_hides_the_webhook_path_on_failure() -> None:
    with FakeWebhook() as hook:
        post_alert(hook.url, {"text": "hello"})
        assert hook.payloads == [{"text": "hello"}]
        assert hook.requests[0]["content_type"] == "application/json"
        hook.status = 500
        with pytest.raises(AlertError, match="answered HTTP 500") as info:
            post_alert(hook.url, {"text": "again"})
        assert hook.path not in str(info.value) and "s3cr3t" not in str(info.value)
        url = hook.url
    with pytest.raises(AlertError, match="unreachable") as info:
        post_alert(url, {"text": "server gone"}, timeout=1)
    assert "s3cr3t" not in str(info.value)
