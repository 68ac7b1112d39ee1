"""The code location: every definition under defs/ plus the shared resources, run by the in-process executor.

defs/ is read with Dagster's module loader (module-level assets, checks, jobs, schedules and sensors, and the
`Definitions` objects that bind resources) rather than `load_from_defs_folder`, which also imports every
installed component library to describe its component types: this code location uses none, and dagster_aws's
alone added more than a second to each CLI command, run and code-server start.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from types import ModuleType

import dagster as dg

import usage_archive.defs

# Dagster's notices about preview, beta and superseded features we chose knowingly (partitioned checks, the
# module loader, the time-partition freshness checks: see defs/ops/checks.py); `load_from_defs_folder` hides
# the same ones.
DAGSTER_NOTICES = (dg.PreviewWarning, dg.BetaWarning, dg.SupersessionWarning)


def load_defs_package(package: ModuleType) -> dg.Definitions:
    """Everything defined at module level in `package` and its subpackages."""
    with warnings.catch_warnings():
        for notice in DAGSTER_NOTICES:
            warnings.simplefilter("ignore", notice)
        modules = [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        ]
        bound = {
            id(value): value
            for module in modules
            for value in vars(module).values()
            if isinstance(value, dg.Definitions)
        }
        return dg.Definitions.merge(dg.load_definitions_from_modules(modules), *bound.values())


defs = dg.Definitions.merge(
    load_defs_package(usage_archive.defs),
    # In process: a run's steps share one process instead of each importing the code location again in a
    # subprocess. The billing export is one step and the checks are short reads, so no step gains from running
    # beside another; the daemon and UI launch runs the same way.
    dg.Definitions(executor=dg.in_process_executor),  # resources: defs/resources.py
)
