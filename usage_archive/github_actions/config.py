"""repositories.yml: which repositories to collect and which team owns each.

Three forms, freely mixed::

    repositories:                 # one repository, optionally with its team
      - octo-org/api
      - repository: octo-org/web
        team: frontend
    teams:                        # a team and its repositories
      platform: [octo-org/infra, octo-org/deploy]
    organizations:                # every repository of an organisation (private and internal included)
      - octo-labs
      - organization: octo-data
        team: data
    runners:                      # optional: runners GitHub's job JSON cannot identify (see runners.py)
      larger:                     # organisation-named larger-runner labels → billing SKU
        linux-8-core: linux_8_core
      self_hosted: [arc-runner-set]        # self-hosted labels without a `self-hosted` label (scale sets)
      self_hosted_groups: [arc-runners]    # runner groups holding only self-hosted runners

A repository named explicitly keeps its own team even when its organisation is listed too. The teams apply to
CircleCI projects too (matched by owner/name). Every error names the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from usage_archive.github_actions.runners import NO_RUNNER_MAP, RunnerMap

REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
ORGANIZATION_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
TOP_LEVEL_KEYS = ("repositories", "teams", "organizations", "runners")
RUNNERS_KEYS = ("larger", "self_hosted", "self_hosted_groups")
SKU_PATTERN = re.compile(r"^[a-z0-9_]+$")


class RepositoriesConfigError(ValueError):
    """repositories.yml is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class RepositoryEntry:
    full_name: str  # owner/name
    team: str | None
    line: int


@dataclass(frozen=True)
class OrganizationEntry:
    organization: str
    team: str | None
    line: int


@dataclass(frozen=True)
class RepositoriesConfig:
    repositories: tuple[RepositoryEntry, ...]
    organizations: tuple[OrganizationEntry, ...]
    runners: RunnerMap = NO_RUNNER_MAP

    def team_for_repository(self, full_name: str) -> str | None:
        """The team of any owner/name: its explicit entry's team (even none), else its organisation's team."""
        for entry in self.repositories:
            if entry.full_name.lower() == full_name.lower():
                return entry.team
        owner = full_name.split("/", 1)[0].lower()
        for org in self.organizations:
            if org.organization.lower() == owner:
                return org.team
        return None

    def team_of(self, full_name: str, organization_team: str | None = None) -> str | None:
        """The explicit team of a repository, else its organisation's team."""
        for entry in self.repositories:
            if entry.full_name.lower() == full_name.lower():
                return entry.team
        return organization_team


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: yaml.Node | None, message: str) -> RepositoriesConfigError:
        where = f"{self.source}, line {_line(node)}" if node is not None else self.source
        return RepositoriesConfigError(f"{where}: {message}")

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise self.error(node, f"{what} must be a non-empty string")
        return str(node.value).strip()

    def repository(self, node: yaml.Node) -> str:
        name = self.scalar(node, "a repository")
        if not REPOSITORY_PATTERN.match(name):
            raise self.error(node, f"repository {name!r} is not of the form owner/name")
        return name

    def organization(self, node: yaml.Node) -> str:
        name = self.scalar(node, "an organization")
        if not ORGANIZATION_PATTERN.match(name):
            raise self.error(node, f"organization {name!r} is not a valid GitHub organization name")
        return name

    def entry(self, node: yaml.Node, name_key: str) -> tuple[yaml.Node, str | None]:
        """A list item: either `name` or a mapping {<name_key>: name, team: team}."""
        if isinstance(node, yaml.ScalarNode):
            return node, None
        if not isinstance(node, yaml.MappingNode):
            raise self.error(
                node, f"a {name_key} entry must be a string or a mapping with '{name_key}' and 'team'"
            )
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node, "a key")
            if key not in (name_key, "team"):
                raise self.error(
                    key_node, f"unknown key {key!r} in a {name_key} entry (allowed: {name_key}, team)"
                )
            fields[key] = value_node
        if name_key not in fields:
            raise self.error(node, f"the entry has no '{name_key}'")
        team = self.scalar(fields["team"], "a team") if "team" in fields else None
        return fields[name_key], team

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"'{what}' must be a list")
        return list(node.value)

    def runners(self, node: yaml.Node) -> RunnerMap:
        """`runners:` with `larger` (label → SKU), `self_hosted` (labels) and `self_hosted_groups` (groups)."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"'runners' must be a mapping with {', '.join(RUNNERS_KEYS)}")
        larger: dict[str, str] = {}
        labels: dict[str, int] = {}  # every label named anywhere in the section → its line
        self_hosted: set[str] = set()
        groups: set[str] = set()

        def new_label(label_node: yaml.Node, what: str) -> str:
            label = self.scalar(label_node, what).lower()
            if label in labels:
                raise self.error(
                    label_node, f"runner label {label!r} is already listed on line {labels[label]}"
                )
            labels[label] = _line(label_node)
            return label

        for key_node, value_node in node.value:
            key = self.scalar(key_node, "a key")
            if key == "larger":
                if not isinstance(value_node, yaml.MappingNode):
                    raise self.error(
                        value_node,
                        "'runners.larger' must map each larger-runner label to its "
                        "billing SKU, e.g. linux-8-core: linux_8_core",
                    )
                for label_node, sku_node in value_node.value:
                    label = new_label(label_node, "a runner label")
                    sku = self.scalar(sku_node, f"the SKU of runner label {label!r}")
                    if not SKU_PATTERN.match(sku):
                        raise self.error(
                            sku_node,
                            f"SKU {sku!r} of runner label {label!r} must be a billing "
                            "SKU in lower case, e.g. linux_8_core or macos_l",
                        )
                    larger[label] = sku
            elif key == "self_hosted":
                self_hosted.update(
                    new_label(item, "a runner label")
                    for item in self.sequence(value_node, "runners.self_hosted")
                )
            elif key == "self_hosted_groups":
                for item in self.sequence(value_node, "runners.self_hosted_groups"):
                    group = self.scalar(item, "a runner group").lower()
                    if group == "github actions":
                        raise self.error(
                            item,
                            "'GitHub Actions' is the group of GitHub's standard hosted "
                            "runners, not a self-hosted runner group",
                        )
                    groups.add(group)
            else:
                raise self.error(
                    key_node, f"unknown key {key!r} in 'runners' (allowed: {', '.join(RUNNERS_KEYS)})"
                )
        return RunnerMap(larger, frozenset(self_hosted), frozenset(groups))


def parse_repositories(text: str, source: str = "repositories.yml") -> RepositoriesConfig:
    """Parse the YAML text; raise RepositoriesConfigError naming the line of the first problem."""
    parser = _Parser(source)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}" if mark is not None else source
        raise RepositoriesConfigError(
            f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})"
        ) from None
    if root is None:
        raise RepositoriesConfigError(
            f"{source}: the file is empty; list repositories, teams or organizations"
        )
    if not isinstance(root, yaml.MappingNode):
        raise parser.error(root, f"the top level must be a mapping with {', '.join(TOP_LEVEL_KEYS)}")

    repositories: list[RepositoryEntry] = []
    organizations: list[OrganizationEntry] = []
    runners = NO_RUNNER_MAP
    for key_node, value_node in root.value:
        key = parser.scalar(key_node, "a top-level key")
        if key == "repositories":
            for item in parser.sequence(value_node, key):
                name_node, team = parser.entry(item, "repository")
                repositories.append(RepositoryEntry(parser.repository(name_node), team, _line(item)))
        elif key == "organizations":
            for item in parser.sequence(value_node, key):
                name_node, team = parser.entry(item, "organization")
                organizations.append(OrganizationEntry(parser.organization(name_node), team, _line(item)))
        elif key == "teams":
            if not isinstance(value_node, yaml.MappingNode):
                raise parser.error(value_node, "'teams' must map each team to a list of repositories")
            for team_node, repos_node in value_node.value:
                team = parser.scalar(team_node, "a team")
                for item in parser.sequence(repos_node, f"teams.{team}"):
                    repositories.append(RepositoryEntry(parser.repository(item), team, _line(item)))
        elif key == "runners":
            runners = parser.runners(value_node)
        else:
            raise parser.error(
                key_node, f"unknown top-level key {key!r} (allowed: {', '.join(TOP_LEVEL_KEYS)})"
            )

    seen: dict[str, RepositoryEntry] = {}
    for entry in repositories:
        previous = seen.get(entry.full_name.lower())
        if previous is not None:
            raise RepositoriesConfigError(
                f"{source}, line {entry.line}: repository {entry.full_name!r} is already listed on line "
                f"{previous.line}"
            )
        seen[entry.full_name.lower()] = entry
    orgs_seen: dict[str, OrganizationEntry] = {}
    for org in organizations:
        if org.organization.lower() in orgs_seen:
            raise RepositoriesConfigError(
                f"{source}, line {org.line}: organization {org.organization!r} is already listed on line "
                f"{orgs_seen[org.organization.lower()].line}"
            )
        orgs_seen[org.organization.lower()] = org
    if not repositories and not organizations:
        raise RepositoriesConfigError(f"{source}: no repositories or organizations are listed")
    return RepositoriesConfig(tuple(repositories), tuple(organizations), runners)


def load_repositories(path: str | Path) -> RepositoriesConfig:
    """Read and parse the file at `path` (USAGE_ARCHIVE_REPOSITORIES)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RepositoriesConfigError(
            f"the repositories file {str(file)!r} does not exist: set USAGE_ARCHIVE_REPOSITORIES to the path of "
            "a repositories.yml (see repositories.example.yml)"
        ) from None
    except OSError as exc:
        raise RepositoriesConfigError(
            f"cannot read the repositories file {str(file)!r}: {exc.strerror}"
        ) from None
    return parse_repositories(text, source=str(file))
