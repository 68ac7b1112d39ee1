"""CI cost across providers: pure logic (no Dagster import), tested directly.

- `circleci`: the merged CircleCI usage CSV (RFC 4180, `\\N` for NULL) → row dicts; VCS_URL → owner/name
- `reconcile`: the week's estimated GitHub Actions cost against GitHub's billing ledger, per repository
- `weekly`: one cost table per week × provider × team × project/repository
"""
