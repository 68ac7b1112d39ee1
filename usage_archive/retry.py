"""The one retry policy both API clients (CircleCI, GitHub) use for transient HTTP failures. No Dagster import.

Transient: a connection error or timeout, a 5xx answer, and 429 Too Many Requests, which waits what its
`Retry-After` header says (else the policy's rate-limit wait). Connection errors and 5xx back off
exponentially. Rate limits and failures are counted apart: a client may wait out many rate limits but gives up
after a few failures. A wait longer than `max_wait_s` is not waited out: `WaitTooLong` tells the caller to fail
the run now (a retried run resumes). The loop is tenacity's; `sleep` is injected, so fake-clock tests never
wait. A client with rules of its own (GitHub's rate-limit reset, its secondary limits on 403) raises
`Transient` with the wait it chose, and the same loop retries it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # further attempts after connection errors and 5xx answers
    max_rate_limit_waits: int = 6  # rate-limited answers waited out per request
    backoff_initial_s: float = 2.0  # first wait after a connection error or a 5xx; doubles each time
    backoff_max_s: float = 60.0
    rate_limit_wait_s: float = 60.0  # after a 429 without Retry-After
    max_wait_s: float = 3900.0  # a longer wait fails the call (WaitTooLong) instead


class Transient(Exception):
    """A failure worth another attempt. `wait` (seconds) overrides the policy's; `status` is the HTTP status,
    None for a connection error. The reason names the call and never a credential."""

    def __init__(
        self, reason: str, *, rate_limited: bool = False, wait: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rate_limited = rate_limited
        self.wait = wait
        self.status = status


class WaitTooLong(Exception):
    """The next attempt would have to wait longer than the policy allows."""

    def __init__(self, cause: Transient, wait: float) -> None:
        super().__init__(f"{cause.reason}: would wait {wait:.0f} s")
        self.cause = cause
        self.wait = wait


def retry_after_seconds(response: Any) -> float | None:
    """The `Retry-After` header in seconds (the delay form), or None when absent or not a number."""
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def raise_if_transient(response: Any, what: str) -> None:
    """Raise Transient for a 5xx or a 429 answer; anything else is the caller's to judge."""
    status = response.status_code
    if status == 429:
        raise Transient(
            f"rate limited (429) on {what}",
            rate_limited=True,
            wait=retry_after_seconds(response),
            status=status,
        )
    if status >= 500:
        raise Transient(f"{status} from {what}", status=status)


def call_with_retries(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    log: Callable[[str], None] | None = None,
) -> T:
    """Call `attempt` until it returns or raises something other than Transient. When the policy's retries
    (or rate-limit waits) are used up, the last Transient is raised; a wait past `max_wait_s` raises
    WaitTooLong. Other exceptions pass through at once."""
    counts = {"failures": 0, "rate_limited": 0}

    def counted_attempt() -> T:
        try:
            return attempt()
        except Transient as exc:
            if exc.rate_limited:
                counts["rate_limited"] += 1
                wait = policy.rate_limit_wait_s if exc.wait is None else exc.wait
            else:
                counts["failures"] += 1
                backoff = policy.backoff_initial_s * 2 ** (counts["failures"] - 1)
                wait = min(backoff, policy.backoff_max_s) if exc.wait is None else exc.wait
            if wait > policy.max_wait_s and not _used_up(exc):
                raise WaitTooLong(exc, wait) from None
            exc.wait = wait
            raise

    def _used_up(exc: Transient) -> bool:
        if exc.rate_limited:
            return counts["rate_limited"] > policy.max_rate_limit_waits
        return counts["failures"] > policy.max_retries

    def stop(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return isinstance(exc, Transient) and _used_up(exc)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return exc.wait if isinstance(exc, Transient) and exc.wait else 0.0

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if log is not None and isinstance(exc, Transient) and exc.wait:
            log(f"{exc.reason}: waiting {exc.wait:.0f} s")

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Transient),
        stop=stop,
        wait=wait,
        before_sleep=before_sleep,
        sleep=lambda seconds: sleep(seconds) if seconds > 0 else None,
        reraise=True,
    )
    return retrying(counted_attempt)
