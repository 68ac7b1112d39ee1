"""Re-read a stored week (its CSV and its hierarchical JSON) and compare them: the checks' logic.

Deliberately independent of `hierarchy`: the CSV side uses csv.DictReader, the JSON side a full json.load with
Decimal numbers, and neither trusts the roll-ups it is checking.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from usage_archive.circleci.columns import NULL, credit_columns, credit_name

csv.field_size_limit(1 << 24)


@dataclass
class UsageSummary:
    jobs: int = 0
    credits: dict[str, Decimal] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def summarize_csv(path: str | os.PathLike[str]) -> UsageSummary:
    """Distinct jobs (JOB_ID, else workflow + job name + run number) and credit sums over their first rows."""
    summary = UsageSummary()
    seen: set[Any] = set()
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = credit_columns(reader.fieldnames or [])
        summary.credits = {credit_name(c): Decimal(0) for c in columns}
        for record in reader:
            job_id = record.get("JOB_ID")
            key = (
                job_id
                if job_id not in (None, "", NULL)
                else (record.get("WORKFLOW_ID"), record.get("JOB_NAME"), record.get("JOB_RUN_NUMBER"))
            )
            if key in seen:
                continue
            seen.add(key)
            for column in columns:
                value = record[column]
                if value not in ("", NULL):
                    summary.credits[credit_name(column)] += Decimal(value)
    summary.jobs = len(seen)
    return summary


def _sum_into(target: dict[str, Decimal], credits: dict[str, Any]) -> None:
    for name, value in credits.items():
        if value is not None:
            target[name] = target.get(name, Decimal(0)) + Decimal(value)


def summarize_json(path: str | os.PathLike[str]) -> UsageSummary:
    """Jobs counted and credits summed from the job level up; every roll-up that disagrees is a problem."""
    with open(path, encoding="utf-8") as fh:
        document = json.load(fh, parse_float=Decimal, parse_int=Decimal)
    summary = UsageSummary()
    job_ids: set[Any] = set()
    for pipeline in document.get("pipelines", []):
        pipeline_sums: dict[str, Decimal] = {}
        for workflow in pipeline.get("workflows", []):
            workflow_sums: dict[str, Decimal] = {}
            for job in workflow.get("jobs", []):
                summary.jobs += 1
                key = job.get("job_id") or (
                    workflow.get("workflow_id"),
                    job.get("job_name"),
                    str(job.get("job_run_number")),
                )
                if key in job_ids:
                    summary.problems.append(f"job {key} appears more than once")
                job_ids.add(key)
                _sum_into(workflow_sums, job.get("credits", {}))
            if _nonzero(workflow_sums) != _nonzero(workflow.get("credits", {})):
                summary.problems.append(
                    f"workflow {workflow.get('workflow_id')}: credits roll-up "
                    f"{_fmt(workflow.get('credits', {}))} != its jobs' sum {_fmt(workflow_sums)}"
                )
            _sum_into(pipeline_sums, workflow.get("credits", {}))
        if _nonzero(pipeline_sums) != _nonzero(pipeline.get("credits", {})):
            summary.problems.append(
                f"pipeline {pipeline.get('pipeline_id')}: credits roll-up "
                f"{_fmt(pipeline.get('credits', {}))} != its workflows' sum {_fmt(pipeline_sums)}"
            )
        _sum_into(summary.credits, pipeline.get("credits", {}))
    totals = document.get("totals", {})
    if totals.get("jobs") != summary.jobs:
        summary.problems.append(f"totals.jobs says {totals.get('jobs')}, the file holds {summary.jobs} jobs")
    if _nonzero(totals.get("credits", {})) != _nonzero(summary.credits):
        summary.problems.append(
            f"totals.credits {_fmt(totals.get('credits', {}))} != the pipelines' sum {_fmt(summary.credits)}"
        )
    job_sums: dict[str, Decimal] = {}
    for pipeline in document.get("pipelines", []):
        for workflow in pipeline.get("workflows", []):
            for job in workflow.get("jobs", []):
                _sum_into(job_sums, job.get("credits", {}))
    summary.credits = job_sums  # what the jobs themselves add up to
    return summary


def _nonzero(credits: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in credits.items() if v is not None and Decimal(v) != 0}


def _fmt(credits: dict[str, Any]) -> str:
    return (
        "{" + ", ".join(f"{k}: {format(Decimal(v), 'f')}" for k, v in sorted(_nonzero(credits).items())) + "}"
    )


def compare(csv_summary: UsageSummary, json_summary: UsageSummary) -> tuple[list[str], list[str]]:
    """(job count problems, credit problems) between a week's CSV and its JSON."""
    job_problems = []
    if csv_summary.jobs != json_summary.jobs:
        job_problems.append(
            f"the JSON holds {json_summary.jobs} jobs, the CSV {csv_summary.jobs} distinct jobs"
        )
    job_problems += [p for p in json_summary.problems if "appears more than once" in p or "totals.jobs" in p]
    credit_problems = [
        f"{name}: JSON {format(json_summary.credits.get(name, Decimal(0)), 'f')} != CSV "
        f"{format(csv_summary.credits.get(name, Decimal(0)), 'f')}"
        for name in sorted(set(csv_summary.credits) | set(json_summary.credits))
        if json_summary.credits.get(name, Decimal(0)) != csv_summary.credits.get(name, Decimal(0))
    ]
    credit_problems += [p for p in json_summary.problems if "roll-up" in p or "totals.credits" in p]
    return job_problems, credit_problems


def csv_problems(path: str | os.PathLike[str], source: str) -> list[str]:
    """What makes a stored CSV unusable: a missing required column, a row of the wrong width, a credit that
    is not a number (at most 20 listed)."""
    from usage_archive.circleci.columns import UsageExportFormatError, validate_header

    problems: list[str] = []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = validate_header(next(reader), source)
        except StopIteration:
            return [f"{source} is empty"]
        except UsageExportFormatError as exc:
            return [str(exc)]
        credits = [(c, i) for i, c in enumerate(header) if c in credit_columns(header)]
        for line, row in enumerate(reader, start=2):
            if len(problems) >= 20:
                break
            if len(row) != len(header):
                problems.append(f"line {line} has {len(row)} fields, the header has {len(header)}")
                continue
            for column, index in credits:
                value = row[index]
                if value not in ("", NULL):
                    try:
                        Decimal(value)
                    except ArithmeticError:
                        problems.append(f"line {line}: {column} is not a number: {value!r}")
    return problems
