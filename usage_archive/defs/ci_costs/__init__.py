"""What CI costs: the weekly cost table across providers, and (in the same asset group) GitHub's billing ledger
that feeds it, whose asset lives with the other GitHub Actions definitions."""

COSTS_GROUP = "ci_costs"
