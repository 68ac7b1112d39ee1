"""Archive governance without Dagster: bucket settings as code, IAM policies, verify, restore and fetch."""
