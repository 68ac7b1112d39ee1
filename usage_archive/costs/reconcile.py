"""The week's estimated GitHub Actions cost against GitHub's billing ledger, repository by repository.

Both sides are list prices before included minutes: the estimate is the sum of `estimated_cost_usd` in
`github_actions/workflow_runs`, the ledger figure the sum of `gross_amount` of its Actions **minutes** items
(`product` actions, `unit_type` minutes). Actions storage is billed under the same product but is not runner
time, so it is left out of both.

Tolerance: a repository is flagged when |estimate − ledger| > max(1 USD, 2 % of the ledger gross). The larger of
the two, so that cents of rounding never flag a small repository and a large one is held to 2 %.
Repositories are matched case-insensitively by owner/name; a ledger item that names only the repository gets
its organisation as owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa

from usage_archive.github_actions.billing_usage import is_actions, ledger_repository

DEFAULT_TOLERANCE_FRACTION = Decimal("0.02")
DEFAULT_TOLERANCE_USD = Decimal("1")
MINUTES = "minutes"


@dataclass(frozen=True)
class RepositoryComparison:
    repository: str
    estimated_usd: Decimal  # sum of the priced jobs
    ledger_gross_usd: Decimal
    unpriced_jobs: int  # finished jobs without a price (a larger runner of unknown SKU, an unknown runner)
    tolerance_usd: Decimal

    @property
    def difference_usd(self) -> Decimal:
        """estimate − ledger: positive when the estimate is higher."""
        return self.estimated_usd - self.ledger_gross_usd

    @property
    def disagrees(self) -> bool:
        return abs(self.difference_usd) > self.tolerance_usd


def tolerance_for(
    ledger_gross: Decimal,
    fraction: Decimal = DEFAULT_TOLERANCE_FRACTION,
    usd: Decimal = DEFAULT_TOLERANCE_USD,
) -> Decimal:
    """max(usd, fraction × |ledger gross|)."""
    return max(usd, fraction * abs(ledger_gross))


def estimated_by_repository(workflow_runs: pa.Table) -> dict[str, tuple[str, Decimal, int]]:
    """lower-case owner/name → (owner/name, estimated USD of the priced jobs, unpriced jobs)."""
    totals: dict[str, tuple[str, Decimal, int]] = {}
    for row in workflow_runs.select(["repository", "run_seconds", "estimated_cost_usd"]).to_pylist():
        name, cost, unpriced = totals.get(row["repository"].lower(), (row["repository"], Decimal(0), 0))
        if row["estimated_cost_usd"] is not None:
            cost += row["estimated_cost_usd"]
        elif row["run_seconds"] is not None:  # finished, but its price is unknown
            unpriced += 1
        totals[row["repository"].lower()] = (name, cost, unpriced)
    return totals


def ledger_minutes_by_repository(ledger: pa.Table) -> dict[str, tuple[str, Decimal]]:
    """lower-case owner/name → (owner/name, gross USD of its Actions minutes items)."""
    totals: dict[str, tuple[str, Decimal]] = {}
    for row in ledger.select(
        ["product", "unit_type", "organization_name", "repository_name", "gross_amount"]
    ).to_pylist():
        if not is_actions(row["product"]) or (row["unit_type"] or "").strip().lower() != MINUTES:
            continue
        repository = ledger_repository(row["repository_name"], row["organization_name"])
        if repository is None:
            continue
        name, gross = totals.get(repository.lower(), (repository, Decimal(0)))
        totals[repository.lower()] = (name, gross + (row["gross_amount"] or Decimal(0)))
    return totals


def compare(
    workflow_runs: pa.Table,
    ledger: pa.Table,
    *,
    repositories: Iterable[str] | None = None,
    tolerance_fraction: Decimal = DEFAULT_TOLERANCE_FRACTION,
    tolerance_usd: Decimal = DEFAULT_TOLERANCE_USD,
) -> list[RepositoryComparison]:
    """Every repository's estimate beside its ledger figure, sorted by name.

    `repositories` limits the comparison (e.g. to the week's configured repositories, so that a ledger item of
    a repository nobody archives is not a disagreement); by default every repository on either side."""
    estimated = estimated_by_repository(workflow_runs)
    billed = ledger_minutes_by_repository(ledger)
    if repositories is None:
        keys = set(estimated) | set(billed)
        names = {k: (estimated.get(k) or billed[k])[0] for k in keys}
    else:
        names = {r.lower(): r for r in repositories}
    comparisons = []
    for key, name in sorted(names.items()):
        _, cost, unpriced = estimated.get(key, (name, Decimal(0), 0))
        _, gross = billed.get(key, (name, Decimal(0)))
        comparisons.append(
            RepositoryComparison(
                name, cost, gross, unpriced, tolerance_for(gross, tolerance_fraction, tolerance_usd)
            )
        )
    return comparisons


def disagreements(
    workflow_runs: pa.Table,
    ledger: pa.Table,
    *,
    repositories: Iterable[str] | None = None,
    tolerance_fraction: Decimal = DEFAULT_TOLERANCE_FRACTION,
    tolerance_usd: Decimal = DEFAULT_TOLERANCE_USD,
) -> list[RepositoryComparison]:
    """The repositories whose estimate and ledger differ by more than the tolerance, largest difference first."""
    flagged = [
        c
        for c in compare(
            workflow_runs,
            ledger,
            repositories=repositories,
            tolerance_fraction=tolerance_fraction,
            tolerance_usd=tolerance_usd,
        )
        if c.disagrees
    ]
    return sorted(flagged, key=lambda c: (-abs(c.difference_usd), c.repository.lower()))


def describe(comparison: RepositoryComparison) -> str:
    """One line for a check's description: both figures, the difference and the tolerance."""
    text = (
        f"{comparison.repository}: estimated {comparison.estimated_usd:.2f} USD, ledger gross "
        f"{comparison.ledger_gross_usd:.2f} USD (difference {comparison.difference_usd:+.2f}, tolerance "
        f"{comparison.tolerance_usd:.2f})"
    )
    if comparison.unpriced_jobs:
        text += f"; {comparison.unpriced_jobs} billable jobs have no rate (map their larger-runner labels to SKUs)"
    return text
