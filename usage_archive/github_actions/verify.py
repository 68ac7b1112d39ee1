"""The integrity rules of a stored week, applied by the blocking checks.

- every run the API listed has exactly as many job rows as GitHub reported jobs for it (no run silently
  dropped, no job lost), and no row belongs to a run that was not listed;
- no job attempt appears twice (a job id is unique per attempt).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

MAX_LISTED = 20  # problems named in a message; the count is always complete


def _limited(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_LISTED:
        return problems
    return [*problems[:MAX_LISTED], f"… and {len(problems) - MAX_LISTED} more"]


def missing_job_problems(table: pa.Table, info: dict[str, Any]) -> list[str]:
    """Runs whose job rows do not match what GitHub reported, and rows of runs nobody listed."""
    stored = Counter(
        zip(table.column("repository").to_pylist(), table.column("run_id").to_pylist(), strict=True)
    )
    problems = []
    listed: set[tuple[str, int]] = set()
    for repository, entry in sorted(info["repositories"].items()):
        for run_id, _attempt, _workflow, expected in entry["runs"]:
            listed.add((repository, run_id))
            found = stored.get((repository, run_id), 0)
            if found != expected:
                problems.append(f"{repository} run {run_id}: {found} job rows, GitHub reported {expected}")
    problems += [
        f"{repository} run {run_id}: {count} job rows for a run that was not listed"
        for (repository, run_id), count in sorted(stored.items())
        if (repository, run_id) not in listed
    ]
    return _limited(problems)


def duplicate_attempt_problems(table: pa.Table) -> list[str]:
    """Job attempts stored more than once (GitHub gives every attempt of a job its own id)."""
    job_ids = Counter(table.column("job_id").to_pylist())
    duplicated = {job_id for job_id, n in job_ids.items() if n > 1}
    if not duplicated:
        return []
    where: dict[int, list[str]] = {}
    for job_id, run_id, attempt in zip(
        table.column("job_id").to_pylist(),
        table.column("run_id").to_pylist(),
        table.column("run_attempt").to_pylist(),
        strict=True,
    ):
        if job_id in duplicated:
            where.setdefault(job_id, []).append(f"run {run_id} attempt {attempt}")
    return _limited(
        [
            f"job {job_id} stored {job_ids[job_id]} times ({', '.join(where[job_id])})"
            for job_id in sorted(duplicated)
        ]
    )
