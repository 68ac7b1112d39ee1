from usage_archive_tests.governance.archive_fixtures import archived, s3_store

__all__ = ["archived", "s3_store"]
