from __future__ import annotations

import pytest

from usage_archive.github_actions.config import RepositoriesConfigError, load_repositories, parse_repositories

EXAMPLE = """\
repositories:
  - octo/api
  - repository: octo/web
    team: frontend
teams:
  platform: [octo/infra, octo/deploy]
organizations:
  - octo-labs
  - organization: octo-data
    team: data
"""


def test_every_form_with_teams_and_lines() -> None:
    config = parse_repositories(EXAMPLE)
    assert [(r.full_name, r.team, r.line) for r in config.repositories] == [
        ("octo/api", None, 2),
        ("octo/web", "frontend", 3),
        ("octo/infra", "platform", 6),
        ("octo/deploy", "platform", 6),
    ]
    assert [(o.organization, o.team) for o in config.organizations] == [
        ("octo-labs", None),
        ("octo-data", "data"),
    ]
    # an explicitly listed repository keeps its own team over its organisation's
    assert config.team_of("OCTO/web", "data") == "frontend"
    assert config.team_of("octo-data/etl", "data") == "data"


def test_the_example_file_parses() -> None:
    from pathlib import Path

    config = load_repositories(Path(__file__).resolve().parents[2] / "repositories.example.yml")
    assert config.repositories and config.organizations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "repositories:\n  - octo/api\n  - not-a-repo\n",
            "line 3: repository 'not-a-repo' is not of the form owner/name",
        ),
        ("repositories:\n  - octo/api\nrepos:\n  - a/b\n", "line 3: unknown top-level key 'repos'"),
        ("repositories:\n  - repository: octo/api\n    teem: x\n", "line 3: unknown key 'teem'"),
        (
            "repositories:\n  - octo/api\n  - octo/API\n",
            "line 3: repository 'octo/API' is already listed on line 2",
        ),
        ("repositories:\n  - octo/api\n   - bad: [\n", "line 3"),
        ("repositories: octo/api\n", "line 1: 'repositories' must be a list"),
        ("organizations:\n  - -bad-\n", "line 2: organization '-bad-' is not a valid"),
        ("teams:\n  platform: octo/api\n", "line 2: 'teams.platform' must be a list"),
        ("repositories:\n  - team: x\n", "line 2: the entry has no 'repository'"),
        ("repositories: []\n", "no repositories or organizations are listed"),
        ("", "the file is empty"),
        ("- octo/api\n", "line 1: the top level must be a mapping"),
    ],
)
def test_malformed_files_name_the_line(text: str, expected: str) -> None:
    with pytest.raises(RepositoriesConfigError) as excinfo:
        parse_repositories(text, source="repos.yml")
    assert str(excinfo.value).startswith("repos.yml")
    assert expected in str(excinfo.value)


def test_missing_file_names_the_variable(tmp_path) -> None:
    with pytest.raises(RepositoriesConfigError, match="USAGE_ARCHIVE_REPOSITORIES"):
        load_repositories(tmp_path / "repositories.yml")
