"""Which kind of runner ran a job: standard GitHub-hosted, larger, self-hosted or unknown.

A job's `labels` are what its `runs-on` asked for, not the runner's own labels, so labels alone cannot tell:
a runner scale set (`runs-on: arc-runner-set`) carries no `self-hosted` label, and a larger runner's label is
whatever name the organisation gave it. The runner group and name settle most cases: `GitHub Actions` is the
group of standard GitHub-hosted runners; larger and self-hosted runners sit in `Default` or a named group.

The rules, first match wins:
1. a `self-hosted` label, a label the user lists as self-hosted, or a group the user lists as self-hosted →
   self-hosted;
2. a label the user maps to a larger-runner SKU → larger, with that SKU;
3. GitHub's own larger macOS labels (`macos-*-large`, `macos-*-xlarge`) → larger (`macos_l`, `macos_xl`);
4. a standard image label (`ubuntu-latest`, `windows-2022`, `macos-14`, `ubuntu-24.04-arm`, `ubuntu-slim`, …)
   in the `GitHub Actions` group, or before any runner was assigned (no group) → that standard class;
5. any other named group: larger (SKU unknown) when a label names a core count (`linux-8-core`,
   `ubuntu-22.04-16core`) or the runner is named like GitHub's hosted runners (`GitHub Actions 12`), else
   self-hosted (a scale set or custom-labelled runner);
6. anything else (custom labels in the `GitHub Actions` group, or no runner and no standard label) → unknown.

A larger runner's size is not in the job JSON: without a user map its SKU is unknown and so is its price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

STANDARD_GROUP = "GitHub Actions"
SELF_HOSTED_LABEL = "self-hosted"

STANDARD_LINUX = "standard_linux"
STANDARD_LINUX_ARM64 = "standard_linux_arm64"
STANDARD_LINUX_SLIM = "standard_linux_slim"
STANDARD_WINDOWS = "standard_windows"
STANDARD_WINDOWS_ARM64 = "standard_windows_arm64"
STANDARD_MACOS = "standard_macos"
LARGER = "larger"
SELF_HOSTED = "self_hosted"
UNKNOWN = "unknown"
STANDARD_CLASSES = (
    STANDARD_LINUX,
    STANDARD_LINUX_ARM64,
    STANDARD_LINUX_SLIM,
    STANDARD_WINDOWS,
    STANDARD_WINDOWS_ARM64,
    STANDARD_MACOS,
)
RUNNER_CLASSES = (*STANDARD_CLASSES, LARGER, SELF_HOSTED, UNKNOWN)

# GitHub-hosted labels, as GitHub names them ("Actions runner pricing", "GitHub-hosted runners reference").
# (label pattern, runner class, SKU); checked in order.
GITHUB_LARGER_LABELS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"macos-(latest|\d+)-xlarge"), "macos_xl"),
    (re.compile(r"macos-(latest|\d+)-large"), "macos_l"),
)
STANDARD_LABELS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"ubuntu-slim"), STANDARD_LINUX_SLIM),
    (re.compile(r"ubuntu-(latest|\d+\.\d+)-arm"), STANDARD_LINUX_ARM64),
    (re.compile(r"ubuntu-(latest|\d+\.\d+)"), STANDARD_LINUX),
    (re.compile(r"windows-(latest|\d+)-arm"), STANDARD_WINDOWS_ARM64),
    (re.compile(r"windows-(latest|\d+)"), STANDARD_WINDOWS),
    (re.compile(r"macos-(latest|\d+)(-(intel|arm64))?"), STANDARD_MACOS),
)
CORE_COUNT = re.compile(r"\d+[-_]?cores?")
HOSTED_RUNNER_NAME = re.compile(r"^(GitHub Actions \d+|Hosted Agent)$")
OS_BY_CLASS = {
    STANDARD_LINUX: "Linux",
    STANDARD_LINUX_ARM64: "Linux",
    STANDARD_LINUX_SLIM: "Linux",
    STANDARD_WINDOWS: "Windows",
    STANDARD_WINDOWS_ARM64: "Windows",
    STANDARD_MACOS: "macOS",
}
OS_BY_SKU_PREFIX = (("linux", "Linux"), ("windows", "Windows"), ("macos", "macOS"))


@dataclass(frozen=True)
class RunnerMap:
    """The `runners:` section of repositories.yml; labels and groups are compared case-insensitively."""

    larger: Mapping[str, str] = field(default_factory=dict)  # label → SKU
    self_hosted_labels: frozenset[str] = frozenset()
    self_hosted_groups: frozenset[str] = frozenset()


NO_RUNNER_MAP = RunnerMap()


@dataclass(frozen=True)
class Runner:
    runner_class: str
    sku: str | None = None  # a larger runner's billing SKU, when known

    @property
    def rate_key(self) -> str | None:
        """The key of this runner's row in the rates table."""
        return self.sku if self.runner_class == LARGER else self.runner_class

    @property
    def os_name(self) -> str | None:
        if self.runner_class in OS_BY_CLASS:
            return OS_BY_CLASS[self.runner_class]
        for prefix, os_name in OS_BY_SKU_PREFIX:
            if self.sku and self.sku.startswith(prefix):
                return os_name
        return None


def _standard_class(label: str) -> str | None:
    for pattern, runner_class in STANDARD_LABELS:
        if pattern.fullmatch(label):
            return runner_class
    return None


def classify_runner(
    labels: Iterable[str], group: str | None, name: str | None, runners: RunnerMap = NO_RUNNER_MAP
) -> Runner:
    """The runner class (and SKU) of a job from its labels, runner group and runner name."""
    lowered = [label.strip().lower() for label in labels]
    group = (group or "").strip() or None
    if (
        SELF_HOSTED_LABEL in lowered
        or any(label in runners.self_hosted_labels for label in lowered)
        or (group is not None and group.lower() in runners.self_hosted_groups)
    ):
        return Runner(SELF_HOSTED)
    for label in lowered:
        if label in runners.larger:
            return Runner(LARGER, runners.larger[label])
    for label in lowered:
        for pattern, sku in GITHUB_LARGER_LABELS:
            if pattern.fullmatch(label):
                return Runner(LARGER, sku)
    if group is None or group == STANDARD_GROUP:
        for label in lowered:
            standard = _standard_class(label)
            if standard is not None:
                return Runner(standard)
        return Runner(UNKNOWN)
    if any(CORE_COUNT.search(label) for label in lowered) or HOSTED_RUNNER_NAME.match((name or "").strip()):
        return Runner(LARGER)
    return Runner(SELF_HOSTED)
