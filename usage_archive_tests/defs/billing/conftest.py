from __future__ import annotations

from datetime import date

import pytest

from usage_archive.demo.billing_db import load_billing_rows, load_billing_schema
from usage_archive.devtools.local_postgres import LocalPostgres

TEMPLATE = "usage_archive_billing_template"


@pytest.fixture(scope="session")
def billing_template(postgres: LocalPostgres):
    """A billing database made once per session, copied for each test (CREATE DATABASE … TEMPLATE)."""
    url = postgres.create_database(TEMPLATE + f"_{id(postgres)}")
    load_billing_schema(url)
    load_billing_rows(url, last_month=date(2026, 10, 1), months=3, scale=600)
    yield url.rsplit("/", 1)[1]
    postgres.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def billing_db(postgres: LocalPostgres, billing_template: str):
    import uuid

    name = f"usage_archive_billing_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(name, template=billing_template)
    yield url
    postgres.drop_database(name)
