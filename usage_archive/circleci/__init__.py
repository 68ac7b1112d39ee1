"""CircleCI usage archive: pure logic (no Dagster import).

- `columns`: the Usage API's CSV columns, which are required, each one's kind, how NULL is written.
- `dialect`: how CircleCI writes the file (RFC 4180, every field quoted) and each value's JSON rule.
- `export_sql`: the same, read and rendered by DuckDB.
- `merge`: gzip CSV parts (or a plain CSV) → one CSV with a single header, columns matched by name, checked.
- `hierarchy`: merged CSV → hierarchical JSON (pipelines → workflows → jobs), bounded memory, exact credits.
- `api`: the Usage API client (create export, poll with backoff, download parts).
- `weekly`: the persisted export job, fetching one week end to end, deriving its JSON.
- `incoming`: importing exports dropped into the `incoming/` folder.
- `sample`: a deterministic synthetic export (demo, tests, benchmark).

Weeks are `usage_archive.periods.Week`; object keys come from `usage_archive.archive.layout`.
"""
