"""Which runner ran a job, from labels, runner group and runner name (the rules in runners.py)."""

from __future__ import annotations

import pytest

from usage_archive.github_actions.runners import RunnerMap, classify_runner

MAP = RunnerMap(
    larger={"big-builder": "linux_16_core"},
    self_hosted_labels=frozenset({"gpu"}),
    self_hosted_groups=frozenset({"on-prem"}),
)


@pytest.mark.parametrize(
    ("labels", "group", "name", "runner_class", "sku"),
    [
        # standard GitHub-hosted images, in the standard group or before a runner was assigned
        (["ubuntu-latest"], "GitHub Actions", "GitHub Actions 12", "standard_linux", None),
        (["ubuntu-24.04"], None, None, "standard_linux", None),
        (["ubuntu-24.04-arm"], "GitHub Actions", "GitHub Actions 3", "standard_linux_arm64", None),
        (["ubuntu-slim"], "GitHub Actions", "GitHub Actions 4", "standard_linux_slim", None),
        (["windows-latest"], "GitHub Actions", "GitHub Actions 5", "standard_windows", None),
        (["windows-11-arm"], "GitHub Actions", "GitHub Actions 5", "standard_windows_arm64", None),
        (["macos-14"], "GitHub Actions", "GitHub Actions 6", "standard_macos", None),
        (["macos-15-intel"], "GitHub Actions", "GitHub Actions 6", "standard_macos", None),
        (["MacOS-Latest"], "GitHub Actions", "GitHub Actions 6", "standard_macos", None),
        # GitHub's larger macOS labels
        (["macos-14-large"], "GitHub Actions", "GitHub Actions 7", "larger", "macos_l"),
        (["macos-latest-xlarge"], "GitHub Actions", "GitHub Actions 7", "larger", "macos_xl"),
        # organisation-named larger runners: mapped, named with a core count, or on a hosted-looking runner
        (["big-builder"], "Default", "big-builder_1f2e", "larger", "linux_16_core"),
        (["linux-8-core"], "Default", "linux-8-core_0a1b", "larger", None),
        (["ubuntu-22.04-16core"], "Larger runners", None, "larger", None),
        (["fast-lane"], "Larger runners", "GitHub Actions 1000123", "larger", None),
        # self-hosted: label, user label, user group, or any other named group (runner scale sets)
        (["self-hosted", "linux", "x64"], "Default", "build-01", "self_hosted", None),
        (["Self-Hosted"], None, None, "self_hosted", None),
        (["gpu"], None, None, "self_hosted", None),
        (["ubuntu-latest"], "On-Prem", "box-1", "self_hosted", None),
        (["arc-runner-set"], "Default", "arc-runner-set-x7k2p-runner-4sd9f", "self_hosted", None),
        (["ubuntu-latest"], "Default", "arc-ubuntu-abc12-runner-9zq4m", "self_hosted", None),
        # what cannot be told
        (["gpu-large"], "GitHub Actions", "GitHub Actions 9", "unknown", None),
        (["arc-runner-set"], None, None, "unknown", None),
        ([], None, None, "unknown", None),
    ],
)
def test_classify(
    labels: list[str], group: str | None, name: str | None, runner_class: str, sku: str | None
) -> None:
    runner = classify_runner(labels, group, name, MAP)
    assert (runner.runner_class, runner.sku) == (runner_class, sku)


def test_the_user_map_wins_over_the_name_heuristics() -> None:
    # a scale set someone named with a core count is self-hosted once listed
    assert classify_runner(["arc-8-core"], "Default", None).runner_class == "larger"
    listed = RunnerMap(self_hosted_labels=frozenset({"arc-8-core"}))
    assert classify_runner(["arc-8-core"], "Default", None, listed).runner_class == "self_hosted"
