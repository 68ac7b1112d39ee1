"""The only doors to the outside world: archive store, billing database, CircleCI and GitHub APIs, alert webhook.

Each resource only configures and hands out a client (the clients live beside their source, without Dagster).
`usage_archive/defs/resources.py` binds them all, with values from `usage_archive.settings`.
"""
