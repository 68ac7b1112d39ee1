"""The code location: every source's definitions and the shared resources, loaded from the defs/ folder."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent / "defs")
