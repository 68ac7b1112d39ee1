"""The alert webhook resource of the ops definitions (ALERT_WEBHOOK_URL, DAGSTER_UI_URL)."""

import dagster as dg

from usage_archive.resources.alerts import build_alert_webhook

defs = dg.Definitions(resources={"alert_webhook": build_alert_webhook()})
