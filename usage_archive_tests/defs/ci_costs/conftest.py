"""The GitHub fixtures (fake API with a populated week, repositories file, local archive store) reused here."""

from usage_archive_tests.defs.github_actions.conftest import (  # noqa: F401
    github,
    local_store,
    repositories_file,
)
