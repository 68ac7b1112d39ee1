"""The code location: every source's definitions from defs/, plus the shared resources."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from usage_archive.resources import build_resources

defs = dg.Definitions.merge(
    dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent / "defs"),
    dg.Definitions(resources=build_resources()),
)
