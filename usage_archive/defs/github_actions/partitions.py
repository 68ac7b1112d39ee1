"""Weekly partitions: weeks start Monday 00:00 UTC (the same weeks as CircleCI); keys are the Monday."""

from __future__ import annotations

import dagster as dg

START_WEEK = "2025-01-06"  # a Monday; GitHub lists workflow runs of roughly the last 400 days

# day_offset=1: weeks start on Monday; end_offset=0: only weeks that have ended are offered.
github_actions_weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=START_WEEK, day_offset=1, end_offset=0, timezone="UTC"
)
