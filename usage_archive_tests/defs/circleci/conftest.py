from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from usage_archive_tests.fakes.circleci_api import FakeUsageApi, gzip_parts


@pytest.fixture
def usage_api(tmp_path: Path) -> Iterator[FakeUsageApi]:
    """The fake Usage API, knowing org-a and org-b, serving a 150-row export in three gzip parts."""
    api = FakeUsageApi(org_ids=("org-a", "org-b"), parts=gzip_parts(tmp_path, 150, 3)).start()
    yield api
    api.stop()
