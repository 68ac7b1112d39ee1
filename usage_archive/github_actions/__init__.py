"""GitHub Actions weekly usage: pure logic (no Dagster import), tested directly.

- `config`: repositories.yml → repositories and organisations with their teams
- `client`: the REST API client (pagination, rate limits, retries)
- `windows`: `created=` query windows and how they split under GitHub's 1,000-result cap
- `rows`: workflow runs + jobs → one row per job attempt, billable minutes
- `archive_file`: the Arrow schema and the Parquet file (with the week's run list embedded)
- `metrics`: per-team / per-repository minutes, slowest and inactive workflows
- `verify`: the integrity rules the blocking checks apply to a stored file
- `collect`: fetch a week repository by repository, with resumable progress in the archive store

Weeks are `usage_archive.periods.Week`; object keys come from `usage_archive.archive.layout`.
"""
