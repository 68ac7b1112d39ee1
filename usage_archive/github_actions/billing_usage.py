"""GitHub's billing usage ledger (`GET /organizations/{org}/settings/billing/usage`): authoritative dollars.

GitHub answers `{"usageItems": [...]}`, summarised by day × SKU × repository, for every product billed
(actions, packages, copilot, …). Every item is kept, with its amounts as exact decimals: the body is parsed
with `json.loads(..., parse_float=Decimal)`, never through floats, because amounts carry fractions of a cent.
`grossAmount − discountAmount = netAmount`; the discount is where included minutes show up. Fields GitHub adds
later are kept as JSON text in `other_fields`, so nothing it sent is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from typing import Any

import pyarrow as pa

from usage_archive.periods import Week

AMOUNT_PLACES = 18
AMOUNT = pa.decimal128(38, AMOUNT_PLACES)  # exact for anything GitHub's JSON numbers carry
ORGANIZATION = "organization"
ENTERPRISE = "enterprise"
ACTIONS = "actions"

# JSON field → (column, kind)
ITEM_FIELDS: Mapping[str, tuple[str, str]] = {
    "date": ("date", "date"),
    "product": ("product", "text"),
    "sku": ("sku", "text"),
    "quantity": ("quantity", "number"),
    "unitType": ("unit_type", "text"),
    "pricePerUnit": ("price_per_unit", "number"),
    "grossAmount": ("gross_amount", "number"),
    "discountAmount": ("discount_amount", "number"),
    "netAmount": ("net_amount", "number"),
    "organizationName": ("organization_name", "text"),
    "repositoryName": ("repository_name", "text"),
}
_TYPES = {"date": pa.date32(), "text": pa.string(), "number": AMOUNT}

BILLING_USAGE_SCHEMA = pa.schema(
    [
        pa.field(
            "account_type", pa.string(), nullable=False
        ),  # organization / enterprise: whose ledger was asked
        pa.field("account", pa.string(), nullable=False),  # the organisation or enterprise slug
        pa.field("report_day", pa.date32(), nullable=False),  # the UTC day asked for (year, month, day)
        *[pa.field(column, _TYPES[kind]) for column, kind in ITEM_FIELDS.values()],
        pa.field("other_fields", pa.string()),  # JSON object of fields not listed above, or null
    ]
)


class BillingUsageError(ValueError):
    """A billing usage response that cannot be read exactly; the message names the response and the item."""


@dataclass(frozen=True)
class UsageReport:
    """One day of one organisation's (or enterprise's) ledger, as GitHub answered it."""

    account_type: str
    account: str
    day: date
    items: list[dict[str, Any]] = field(default_factory=list)


def week_days(week: str | Week) -> list[date]:
    """The seven UTC days of a week, Monday first: the days the ledger is asked for."""
    monday = Week.parse(week).monday
    return [monday + timedelta(days=n) for n in range(7)]


def _number(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise BillingUsageError(f"{where} is {value!r}, not a number")
    number = Decimal(value)
    if not number.is_finite():
        raise BillingUsageError(f"{where} is {value!r}, not a finite number")
    with localcontext() as context:
        context.prec = 80  # room for 20 + 18 digits while checking
        exact = abs(number) < Decimal(10) ** 20 and number == number.quantize(
            Decimal(1).scaleb(-AMOUNT_PLACES)
        )
    if not exact:
        raise BillingUsageError(
            f"{where} is {value!r}: more than {AMOUNT_PLACES} decimal places or 20 digits "
            "before the point cannot be stored exactly"
        )
    return number


def _day(value: Any, where: str) -> date | None:
    """`2026-01-05` or an ISO timestamp (`2026-01-05T00:00:00Z`) → its UTC day."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BillingUsageError(f"{where} is {value!r}, not a date")
    try:
        if "T" not in value:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BillingUsageError(f"{where} is {value!r}, not a date (YYYY-MM-DD)") from None
    return (moment.astimezone(timezone.utc) if moment.tzinfo else moment).date()


def parse_usage_response(body: bytes | str, source: str) -> list[dict[str, Any]]:
    """The usage items of a response body, numbers as Decimal; refuses what is not GitHub's shape."""
    try:
        document = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BillingUsageError(f"{source}: the response is not JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("usageItems"), list):
        raise BillingUsageError(f"{source}: the response has no usageItems list")
    items = document["usageItems"]
    for index, item in enumerate(items):
        where = f"{source}: usage item {index}"
        if not isinstance(item, dict):
            raise BillingUsageError(f"{where} is not an object")
        for name, (_column, kind) in ITEM_FIELDS.items():
            value = item.get(name)
            if kind == "number":
                _number(value, f"{where} {name}")
            elif kind == "date":
                _day(value, f"{where} {name}")
            elif value is not None and not isinstance(value, str):
                raise BillingUsageError(f"{where} {name} is {value!r}, not a string")
    return items


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def usage_rows(report: UsageReport, source: str | None = None) -> list[dict[str, Any]]:
    """The report's items as rows of BILLING_USAGE_SCHEMA."""
    source = source or f"{report.account_type} {report.account} billing usage for {report.day}"
    rows = []
    for index, item in enumerate(report.items):
        where = f"{source}: usage item {index}"
        row: dict[str, Any] = {
            "account_type": report.account_type,
            "account": report.account,
            "report_day": report.day,
        }
        for name, (column, kind) in ITEM_FIELDS.items():
            value = item.get(name)
            row[column] = (
                _number(value, f"{where} {name}")
                if kind == "number"
                else _day(value, f"{where} {name}")
                if kind == "date"
                else value
            )
        other = {k: v for k, v in item.items() if k not in ITEM_FIELDS}
        row["other_fields"] = json.dumps(other, sort_keys=True, default=_json_default) if other else None
        rows.append(row)
    return rows


def billing_usage_table(reports: Iterable[UsageReport]) -> pa.Table:
    """Every item of every report, in the order given (account, then day, then GitHub's order)."""
    rows = [row for report in reports for row in usage_rows(report)]
    return pa.Table.from_pylist(rows, schema=BILLING_USAGE_SCHEMA)


def is_actions(product: str | None) -> bool:
    """GitHub spells the product `actions` or `Actions`."""
    return (product or "").strip().lower() == ACTIONS


def ledger_repository(repository_name: str | None, organization_name: str | None) -> str | None:
    """owner/name of an item's repository; items naming only the repository get their organisation as owner."""
    if not repository_name:
        return None
    if "/" in repository_name or not organization_name:
        return repository_name
    return f"{organization_name}/{repository_name}"


def plain(amount: Decimal) -> str:
    """An amount without the stored trailing zeros (0.040000000000000000 → 0.04), every digit kept."""
    return f"{amount.normalize():f}" if amount else "0"


def amount_problems(table: pa.Table) -> list[str]:
    """Items whose gross − discount ≠ net (each amount known), named by account, day, SKU and repository."""
    problems = []
    for row in table.select(
        ["account", "date", "sku", "repository_name", "gross_amount", "discount_amount", "net_amount"]
    ).to_pylist():
        gross, discount, net = row["gross_amount"], row["discount_amount"], row["net_amount"]
        if None not in (gross, discount, net) and gross - discount != net:
            problems.append(
                f"{row['account']} {row['date']} {row['sku']} {row['repository_name'] or '-'}: "
                f"gross {plain(gross)} − discount {plain(discount)} ≠ net {plain(net)}"
            )
    return problems
