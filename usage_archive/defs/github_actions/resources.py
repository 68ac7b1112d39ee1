"""The `github` resource (GITHUB_TOKEN, GITHUB_API_URL, USAGE_ARCHIVE_REPOSITORIES)."""

import dagster as dg

from usage_archive.resources.github import build_github_resource

defs = dg.Definitions(resources={"github": build_github_resource()})
