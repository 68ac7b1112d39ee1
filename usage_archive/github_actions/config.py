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

A repository named explicitly keeps its own team even when its organisation is listed too. Every error names
the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
ORGANIZATION_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
TOP_LEVEL_KEYS = ("repositories", "teams", "organizations")


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
    return RepositoriesConfig(tuple(repositories), tuple(organizations))


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
