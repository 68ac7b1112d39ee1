"""The write-behind helper: chunks written in order on a second thread, a failed write raised to the caller."""

from __future__ import annotations

import threading

import pytest

from usage_archive.circleci.write_behind import write_behind


def test_chunks_are_written_in_order_on_another_thread() -> None:
    written: list[int] = []
    threads: set[str] = set()

    def write(chunk: int) -> None:
        threads.add(threading.current_thread().name)
        written.append(chunk)

    with write_behind(write, ahead=2) as submit:
        for chunk in range(100):
            submit(chunk)
    assert written == list(range(100))
    assert threads and threading.current_thread().name not in threads


def test_a_failed_write_is_raised_to_the_caller() -> None:
    def write(chunk: int) -> None:
        if chunk == 3:
            raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left on device"), write_behind(write, ahead=1) as submit:
        for chunk in range(10):
            submit(chunk)
