"""CircleCI sensors: exports dropped under the CircleCI incoming/ folder (archive/layout.py), and the JSON that follows its CSV.

- `circleci_incoming_exports` only looks: each `.csv`/`.csv.gz` waiting under incoming/ becomes one run of
  `circleci_import_export` (jobs.py), which does the work with its own run log. The run key is the object's
  key, size and write time, so a file is imported once, a re-dropped or changed file again, and a rejected
  file is not tried again until it changes. The tick itself writes nothing.
- `circleci_automation` evaluates the automation condition of `circleci/usage_hierarchical_json`
  (`JSON_FOLLOWS_CSV`, assets.py): a week's CSV stored by a run that did not also build the JSON (from the UI,
  a CSV-only backfill, an import) is followed by a run of the JSON and its blocking checks.
"""

from __future__ import annotations

import dagster as dg

from usage_archive.archive.layout import CIRCLECI_INCOMING_PREFIX
from usage_archive.circleci.incoming import incoming_files
from usage_archive.defs.circleci.assets import USAGE_JSON
from usage_archive.defs.circleci.jobs import circleci_import_export, import_run_config
from usage_archive.resources.archive_store import ArchiveStoreResource


def build_incoming_sensor(job: dg.JobDefinition = circleci_import_export) -> dg.SensorDefinition:
    @dg.sensor(
        name="circleci_incoming_exports",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests an import run for each usage export dropped under {CIRCLECI_INCOMING_PREFIX}/",
    )
    def circleci_incoming_exports(
        context: dg.SensorEvaluationContext,
        archive_store: ArchiveStoreResource,
    ) -> dg.SensorResult:
        requests = [
            dg.RunRequest(
                run_key=f"{item.key}|{item.bytes}|{item.modified}",
                run_config=import_run_config(item.key),
                tags={"usage_archive/incoming": item.key},
            )
            for item in incoming_files(archive_store.get_store())
        ]
        if not requests:
            return dg.SensorResult(skip_reason=f"nothing waits under {CIRCLECI_INCOMING_PREFIX}/")
        return dg.SensorResult(run_requests=requests)

    return circleci_incoming_exports


circleci_incoming_exports = build_incoming_sensor()

circleci_automation = dg.AutomationConditionSensorDefinition(
    "circleci_automation",
    target=dg.AssetSelection.assets(USAGE_JSON),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Builds circleci/usage_hierarchical_json for every week whose CSV was stored without it",
)
