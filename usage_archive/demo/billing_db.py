"""Create the demo billing schema and fill it with deterministic synthetic months (no Dagster import)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg2

HERE = Path(__file__).resolve().parent


def _render(sql: str, *, last_month: date, months: int, scale: int) -> str:
    return (
        sql.replace(":'last_month'", f"'{last_month:%Y-%m-01} 00:00:00+00'")
        .replace(":months", str(int(months)))
        .replace(":scale", str(int(scale)))
    )


def load_billing_schema(url: str) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute((HERE / "billing_schema.sql").read_text())


def load_billing_rows(url: str, *, last_month: date, months: int = 3, scale: int = 5000) -> dict[str, int]:
    """Insert `months` months of rows ending with `last_month`; `scale` rows per month in credit_checks."""
    sql = _render((HERE / "billing_data.sql").read_text(), last_month=last_month, months=months, scale=scale)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        counts = {}
        for table in (
            "accounts",
            "credits",
            "charges",
            "google_play_purchases",
            "llm_usage_logs",
            "admin_audit_logs",
            "credit_checks",
        ):
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    return counts
