"""Writing on a second thread while the caller produces the next chunk.

Writing a new file costs the kernel time per byte (on the 2-core development machine about 2 s per GB, see
docs/circleci.md); decompressing or assembling the next chunk releases the GIL too, so the two overlap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any


@contextmanager
def write_behind(write: Callable[[Any], Any], ahead: int = 2) -> Iterator[Callable[[Any], None]]:
    """A function that hands a chunk to `write` on a second thread, in order; at most `ahead` chunks wait.
    Leaving the block waits for every write and raises the first write's error."""
    with ThreadPoolExecutor(1, thread_name_prefix="write-behind") as writer:
        waiting: deque[Future[Any]] = deque()

        def submit(chunk: Any) -> None:
            waiting.append(writer.submit(write, chunk))
            if len(waiting) > ahead:
                waiting.popleft().result()

        try:
            yield submit
        finally:
            while waiting:
                waiting.popleft().result()
