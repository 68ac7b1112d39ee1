"""GitHub's billing usage ledger: the client over real HTTP to the fake API, and the exact table it becomes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from usage_archive.archive.layout import github_billing_usage_key
from usage_archive.github_actions.billing_usage import (
    BILLING_USAGE_SCHEMA,
    BillingUsageError,
    UsageReport,
    amount_problems,
    billing_usage_table,
    is_actions,
    ledger_repository,
    parse_usage_response,
    week_days,
)
from usage_archive.github_actions.client import GitHubClient, GitHubNotFound, GitHubPermissionError
from usage_archive.periods import Week
from usage_archive_tests.fakes.github_api import FakeGitHub, usage_item

WEEK = "2026-01-05"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.billing[("organizations", "octo")] = [
            # fractions of a cent, several products, an item outside the week, one without a repository
            usage_item("2026-01-05", "octo/api", quantity="7", price="0.006", gross="0.042"),
            usage_item(
                "2026-01-05",
                "octo/api",
                sku="actions_storage",
                unit="GigabyteHours",
                quantity="0.0133",
                price="0.00033602",
                gross="0.000004469066",
            ),
            usage_item(
                "2026-01-06", "octo/api", quantity="0.1", price="1", gross="0.1", discount="0.1", net="0"
            ),
            usage_item("2026-01-06", "octo/web", quantity="0.2", price="1", gross="0.2"),
            usage_item(
                "2026-01-07", "octo/web", sku="linux_8_core", quantity="11", price="0.022", gross="0.242"
            ),
            usage_item(
                "2026-01-07",
                None,
                product="copilot",
                sku="copilot_for_business",
                unit="user-months",
                quantity="0.3548387",
                price="19",
                gross="6.7419353",
                discount="0",
                net="6.7419353",
            ),
            usage_item(
                "2026-01-08",
                "octo/api",
                product="packages",
                sku="packages_storage",
                unit="GigabyteHours",
                quantity="12.5",
                price="0.0003360215",
                gross="0.00420026875",
            ),
            usage_item("2026-01-12", "octo/api", quantity="1000", price="0.006"),  # next week
        ]
        fake.billing[("enterprises", "octo-corp")] = [usage_item("2026-01-05", "octo/api", quantity="3")]
        yield fake


def client_for(fake: FakeGitHub) -> GitHubClient:
    return GitHubClient(fake.token, fake.api_url, sleep=fake.clock.sleep, clock=fake.clock.time)


def test_a_week_of_the_ledger_over_http_keeps_every_item_and_every_fraction_of_a_cent(
    github: FakeGitHub,
) -> None:
    client = client_for(github)
    reports = [client.billing_usage("octo", day) for day in week_days(WEEK)]
    asked = [q for p, q in github.requests if p.endswith("/settings/billing/usage")]
    assert asked[0] == {"year": "2026", "month": "1", "day": "5"} and len(asked) == 7
    assert github.paths("/organizations/octo/settings/billing/usage") and not github.paths("/orgs/")
    table = billing_usage_table(reports)
    assert table.schema.equals(BILLING_USAGE_SCHEMA)
    assert table.num_rows == 7  # every product of the week, nothing from the next week
    assert sorted(set(table.column("product").to_pylist())) == ["actions", "copilot", "packages"]
    assert pc.sum(table.column("gross_amount")).as_py() == Decimal("7.330140037816")
    assert pc.sum(table.column("net_amount")).as_py() == Decimal("7.230140037816")
    tuesday = table.filter(pc.equal(table.column("date"), pa.scalar(date(2026, 1, 6))))
    assert pc.sum(tuesday.column("gross_amount")).as_py() == Decimal("0.3")  # exact
    assert 0.1 + 0.2 != 0.3  # what floats would have made of it
    storage = table.filter(pc.equal(table.column("sku"), "actions_storage")).to_pylist()[0]
    assert storage["gross_amount"] == Decimal("0.000004469066") and storage["quantity"] == Decimal("0.0133")
    assert storage["report_day"] == date(2026, 1, 5) and storage["date"] == date(2026, 1, 5)
    assert (storage["account_type"], storage["account"]) == ("organization", "octo")
    assert table.filter(pc.equal(table.column("product"), "copilot")).column(
        "repository_name"
    ).to_pylist() == [None]
    assert amount_problems(table) == []
    assert (
        github_billing_usage_key(Week.parse(WEEK))
        == "github-actions-usage/billing-usage-2026-01-05-to-2026-01-12.parquet"
    )


def test_the_enterprise_ledger(github: FakeGitHub) -> None:
    report = client_for(github).billing_usage("octo-corp", date(2026, 1, 5), enterprise=True)
    assert github.paths("/enterprises/octo-corp/settings/billing/usage")
    assert report.account_type == "enterprise" and report.items[0]["grossAmount"] == Decimal("0.018")


def test_a_403_names_the_permission_the_billing_ledger_needs_and_never_the_token(github: FakeGitHub) -> None:
    github.billing_forbidden.add("octo")
    with pytest.raises(GitHubPermissionError) as excinfo:
        client_for(github).billing_usage("octo", date(2026, 1, 5))
    message = str(excinfo.value)
    assert (
        "organization octo billing usage for 2026-01-05: 403 'Resource not accessible by personal access "
        "token'" in message
    )
    assert "organisation owner or billing manager of octo" in message
    assert '"Administration: read"' in message
    assert "Actions: read" not in message and github.token not in message


def test_a_404_says_what_may_be_missing(github: FakeGitHub) -> None:
    with pytest.raises(GitHubNotFound) as excinfo:
        client_for(github).billing_usage("octo-labs", date(2026, 1, 5))
    assert "404 Not Found" in str(excinfo.value) and "billing manager of octo-labs" in str(excinfo.value)
    with pytest.raises(GitHubNotFound, match="enterprise owner or billing manager of nobody"):
        client_for(github).billing_usage("nobody", date(2026, 1, 5), enterprise=True)


def test_numbers_are_parsed_as_decimals_never_floats() -> None:
    body = (
        '{"usageItems": [{"date": "2026-01-05T00:00:00Z", "product": "Actions", "sku": "actions_linux", '
        '"quantity": 3, "grossAmount": 0.1, "discountAmount": 0.30000000000000004, "netAmount": 0, '
        '"costCenterName": "R&D", "extra": {"a": 1.5}}]}'
    )
    items = parse_usage_response(body, source="test")
    assert items[0]["grossAmount"] == Decimal("0.1") and isinstance(items[0]["quantity"], int)
    (row,) = billing_usage_table([UsageReport("organization", "octo", date(2026, 1, 5), items)]).to_pylist()
    assert row["discount_amount"] == Decimal("0.30000000000000004")  # kept as written, not as a float
    assert row["date"] == date(2026, 1, 5) and row["quantity"] == Decimal(3)
    assert json.loads(row["other_fields"]) == {"costCenterName": "R&D", "extra": {"a": "1.5"}}
    assert row["price_per_unit"] is None and row["organization_name"] is None  # absent stays null


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("not json", "the response is not JSON"),
        ('{"items": []}', "the response has no usageItems list"),
        ('{"usageItems": [1]}', "usage item 0 is not an object"),
        ('{"usageItems": [{"grossAmount": "0.1"}]}', "usage item 0 grossAmount is '0.1', not a number"),
        ('{"usageItems": [{"netAmount": true}]}', "usage item 0 netAmount is True, not a number"),
        ('{"usageItems": [{"netAmount": NaN}]}', "usage item 0 netAmount is nan, not a number"),
        ('{"usageItems": [{"netAmount": 0.0000000000000000001}]}', "more than 18 decimal places"),
        ('{"usageItems": [{"date": "05/01/2026"}]}', "usage item 0 date is '05/01/2026', not a date"),
        ('{"usageItems": [{}, {"product": 7}]}', "usage item 1 product is 7, not a string"),
    ],
)
def test_what_is_not_githubs_shape_is_refused_by_name(body: str, expected: str) -> None:
    with pytest.raises(BillingUsageError) as excinfo:
        parse_usage_response(body, source="GET /organizations/octo/settings/billing/usage")
    assert str(excinfo.value).startswith("GET /organizations/octo/settings/billing/usage: ")
    assert expected in str(excinfo.value)


def test_gross_minus_discount_must_be_net() -> None:
    items = [
        usage_item("2026-01-05", "octo/api", gross="0.042", discount="0.002", net="0.04"),
        usage_item("2026-01-05", "octo/web", gross="0.042", discount="0.002", net="0.041"),
    ]
    table = billing_usage_table([UsageReport("organization", "octo", date(2026, 1, 5), items)])
    assert amount_problems(table) == [
        "octo 2026-01-05 actions_linux octo/web: gross 0.042 − discount 0.002 ≠ net 0.041"
    ]


def test_products_and_repositories_as_github_spells_them() -> None:
    assert (
        is_actions("Actions")
        and is_actions("actions")
        and not is_actions("Packages")
        and not is_actions(None)
    )
    assert ledger_repository("octo/api", "octo") == "octo/api"
    assert ledger_repository("api", "octo") == "octo/api"
    assert ledger_repository(None, "octo") is None and ledger_repository("", "octo") is None


def test_an_empty_week_is_an_empty_table() -> None:
    table = billing_usage_table([UsageReport("organization", "octo", d, []) for d in week_days(WEEK)])
    assert table.num_rows == 0 and table.schema.equals(BILLING_USAGE_SCHEMA)
    assert pa.types.is_decimal(table.schema.field("net_amount").type)
