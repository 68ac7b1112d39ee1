"""The Dagster UI's doors, for tests: a real `dagster dev` (webserver + daemon + code server, as `make dev`
starts it) and a GraphQL client that sends the same documents the UI's own code sends.

The query and mutation texts below are copied from the Dagster 1.13 UI (`LaunchAssetChoosePartitionsDialog`,
`LaunchAssetExecutionButton`, `ConfigFetch`, `BackfillUtils`), trimmed only of fragments the tests do not
read. The variables are built the way the UI builds them (`asAssetKeyInput`, `getAssetCheckHandleInputs`,
`executionParamsForAssetJob`), so a request that works here works from the browser.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
LOCATION = "usage_archive"  # workspace.yaml's location_name, = [tool.dg.project] code_location_name
REPOSITORY = "__repository__"

LAUNCH_PARTITION_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PresetNotFoundError { message }
    ... on RunConfigValidationInvalid { pipelineName errors { message path reason } }
    ... on PythonError { message stack }
  }
}"""

LAUNCH_PIPELINE_EXECUTION_MUTATION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id runId pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
  }
}"""

LAUNCH_ASSET_LOADER_QUERY = """
query LaunchAssetLoaderQuery($assetKeys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $assetKeys) {
    id
    opNames
    jobNames
    isPartitioned
    assetKey { path }
    backfillPolicy { policyType }
    partitionDefinition { name type dimensionTypes { name } }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name canExecuteIndividually jobNames } }
    }
    repository { name location { name } }
  }
  assetNodeDefinitionCollisions(assetKeys: $assetKeys) { assetKey { path } }
  assetNodeAdditionalRequiredKeys(assetKeys: $assetKeys) { path }
}"""

CONFIG_PARTITION_FOR_ASSET_JOB_QUERY = """
query ConfigPartitionForAssetJobQuery($repositoryName: String!, $repositoryLocationName: String!,
    $jobName: String!, $partitionName: String!, $assetKeys: [AssetKeyInput!]!) {
  pipelineOrError(params: {pipelineName: $jobName, repositoryName: $repositoryName,
                           repositoryLocationName: $repositoryLocationName}) {
    __typename
    ... on Pipeline {
      id
      partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
        name
        runConfigOrError { __typename ... on PartitionRunConfig { yaml } ... on PythonError { message } }
        tagsOrError { __typename ... on PartitionTags { results { key value } } ... on PythonError { message } }
      }
    }
  }
}"""

BACKFILL_STATUS_QUERY = """
query BackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status runs(limit: 50) { id status } }
    ... on PythonError { message }
  }
}"""

RUN_STATUS_QUERY = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { id status tags { key value } }
  }
}"""

ASSET_CHECK_EXECUTIONS_QUERY = """
query AssetCheckExecutions($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 50) {
    id runId status partition
    evaluation { success severity partition }
  }
}"""

LOCATION_STATUS_QUERY = """
query { workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}


def key_input(key: str) -> dict[str, list[str]]:
    """`asAssetKeyInput`: 'billing/credits' → {"path": ["billing", "credits"]}."""
    return {"path": key.split("/")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterUI:
    """GraphQL at `url`, speaking as the UI does."""

    url: str

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"GraphQL HTTP {exc.code}: {exc.read()[:2000]!r}") from None
        assert "errors" not in answer, answer["errors"]
        return answer["data"]

    # -- the "Materialize all…" / "Materialize…" partition dialog ------------------------------------------
    def launch_partition_backfill(self, asset_keys: list[str], partition_names: list[str]) -> dict[str, Any]:
        """What the dialog sends on "Launch backfill" (target type 'pureWithAnchorAsset' / several keys)."""
        params = {
            "tags": [],
            "assetSelection": [key_input(k) for k in asset_keys],
            "partitionNames": partition_names,
            "fromFailure": False,
        }
        return self.graphql(LAUNCH_PARTITION_BACKFILL_MUTATION, {"backfillParams": params})[
            "launchPartitionBackfill"
        ]

    def load_assets(self, asset_keys: list[str]) -> dict[str, Any]:
        return self.graphql(LAUNCH_ASSET_LOADER_QUERY, {"assetKeys": [key_input(k) for k in asset_keys]})

    def materialize_keys(self, asset_keys: list[str]) -> list[str]:
        """The "Materialize" button: keys the UI adds (after a confirm dialog) because a multi-asset cannot be
        subset."""
        extra = ["/".join(k["path"]) for k in self.load_assets(asset_keys)["assetNodeAdditionalRequiredKeys"]]
        return [*asset_keys, *extra]

    def launch_single_run(self, asset_keys: list[str], partition: str) -> dict[str, Any]:
        """What the dialog sends on "Launch 1 run": the assets' common job, its tags and config for the
        partition, and every check of the selected assets that belongs to that job."""
        nodes = self.load_assets(asset_keys)["assetNodes"]
        jobs = set.intersection(*(set(n["jobNames"]) for n in nodes))
        job = "__ASSET_JOB" if "__ASSET_JOB" in jobs else sorted(jobs)[0]
        config = self.graphql(
            CONFIG_PARTITION_FOR_ASSET_JOB_QUERY,
            {
                "repositoryName": REPOSITORY,
                "repositoryLocationName": LOCATION,
                "jobName": job,
                "partitionName": partition,
                "assetKeys": [key_input(k) for k in asset_keys],
            },
        )["pipelineOrError"]["partition"]
        tags = config["tagsOrError"]["results"]
        checks = [
            {"name": c["name"], "assetKey": {"path": n["assetKey"]["path"]}}
            for n in nodes
            for c in n["assetChecksOrError"].get("checks", [])
            if not c["jobNames"] or job in c["jobNames"]
        ]
        params = {
            "mode": "default",
            "executionMetadata": {"tags": [{"key": t["key"], "value": t["value"]} for t in tags]},
            "runConfigData": config["runConfigOrError"].get("yaml") or "{}",
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "pipelineName": job,
                "assetSelection": [key_input(k) for k in asset_keys],
                "assetCheckSelection": checks,
            },
        }
        return self.graphql(LAUNCH_PIPELINE_EXECUTION_MUTATION, {"executionParams": params})[
            "launchPipelineExecution"
        ]

    # -- what the backfill and run pages show ---------------------------------------------------------------
    def wait_for_backfill(self, backfill_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            backfill = self.graphql(BACKFILL_STATUS_QUERY, {"backfillId": backfill_id})[
                "partitionBackfillOrError"
            ]
            if backfill.get("status") in TERMINAL_BACKFILL or time.monotonic() > deadline:
                return backfill
            time.sleep(2)

    def wait_for_run(self, run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.graphql(RUN_STATUS_QUERY, {"runId": run_id})["runOrError"]
            if run.get("status") in TERMINAL_RUN or time.monotonic() > deadline:
                return run
            time.sleep(1)

    def check_results(self, asset_key: str, check_name: str) -> dict[str, bool]:
        """partition → passed, for the newest execution of each partition (newest first from GraphQL)."""
        executions = self.graphql(
            ASSET_CHECK_EXECUTIONS_QUERY, {"assetKey": key_input(asset_key), "checkName": check_name}
        )
        results: dict[str, bool] = {}
        for execution in executions["assetCheckExecutions"]:
            evaluation = execution["evaluation"]
            partition = (evaluation or {}).get("partition") or execution.get("partition")
            if partition is not None and partition not in results and evaluation is not None:
                results[partition] = evaluation["success"]
        return results


@dataclass
class DagsterDev:
    """`dagster dev -w workspace.yaml` from the project root, exactly as `make dev` runs it."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> DagsterUI:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [DAGSTER, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=PROJECT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ui = DagsterUI(self.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"dagster dev exited: {self.log_path.read_text()[-3000:]}")
            try:
                entries = ui.graphql(LOCATION_STATUS_QUERY)["workspaceOrError"]["locationEntries"]
            except (OSError, AssertionError):
                entries = []
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
                assert not errors, errors
                return ui
            time.sleep(1)
        raise AssertionError(f"dagster dev did not come up: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the webserver, daemon and code server with it
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
