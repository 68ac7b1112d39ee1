import dagster as dg

from usage_archive.resources.circleci import build_circleci_resource

defs = dg.Definitions(resources={"circleci": build_circleci_resource()})
