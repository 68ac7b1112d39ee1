"""The shared retry policy, over real HTTP: what is transient, how long each wait is, when it gives up."""

from __future__ import annotations

import pytest
import requests

from usage_archive.retry import RetryPolicy, Transient, WaitTooLong, call_with_retries, raise_if_transient
from usage_archive_tests.fakes.http_server import ScriptedServer

POLICY = RetryPolicy(
    max_retries=3,
    max_rate_limit_waits=2,
    backoff_initial_s=1.0,
    backoff_max_s=3.0,
    rate_limit_wait_s=30.0,
    max_wait_s=100.0,
)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fetch(url: str, sleeps: Sleeps | None = None, logs: list[str] | None = None) -> requests.Response:
    """A GET under the policy, classified the way both API clients do it."""

    def attempt() -> requests.Response:
        try:
            response = requests.get(url, timeout=5)
        except requests.RequestException as exc:
            raise Transient(f"connection error: {type(exc).__name__}") from None
        raise_if_transient(response, "GET /thing")
        return response

    return call_with_retries(
        attempt,
        POLICY,
        sleep=sleeps if sleeps is not None else Sleeps(),
        log=logs.append if logs is not None else None,
    )


def test_server_errors_back_off_exponentially_up_to_the_cap() -> None:
    sleeps, logs = Sleeps(), []
    with ScriptedServer([(500, {}), (502, {}), (503, {}), (200, {})]) as server:
        assert fetch(server.url, sleeps, logs).status_code == 200
    assert sleeps == [1.0, 2.0, 3.0]  # doubling, capped at backoff_max_s
    assert logs[0] == "500 from GET /thing: waiting 1 s"


def test_429_waits_its_retry_after_else_the_policy_wait() -> None:
    sleeps = Sleeps()
    with ScriptedServer([(429, {"Retry-After": "7"}), (429, {}), (200, {})]) as server:
        assert fetch(server.url, sleeps).status_code == 200
    assert sleeps == [7.0, POLICY.rate_limit_wait_s]


def test_rate_limits_and_failures_are_counted_apart() -> None:
    sleeps = Sleeps()
    script = [(429, {}), (500, {}), (429, {}), (500, {}), (500, {}), (200, {})]
    with ScriptedServer(script) as server:
        assert fetch(server.url, sleeps).status_code == 200
    assert sleeps == [30.0, 1.0, 30.0, 2.0, 3.0]


def test_it_gives_up_with_the_last_failure() -> None:
    with ScriptedServer([(503, {})] * 10) as server:
        with pytest.raises(Transient, match="503 from GET /thing") as excinfo:
            fetch(server.url)
        assert len(server.served) == POLICY.max_retries + 1
    assert excinfo.value.status == 503


def test_a_wait_past_the_maximum_is_not_waited_out() -> None:
    sleeps = Sleeps()
    with ScriptedServer([(429, {"Retry-After": "3600"})]) as server, pytest.raises(WaitTooLong) as excinfo:
        fetch(server.url, sleeps)
    assert excinfo.value.wait == 3600
    assert sleeps == []


def test_other_answers_and_exceptions_are_not_retried() -> None:
    with ScriptedServer([(404, {}), (200, {})]) as server:
        assert fetch(server.url).status_code == 404  # the caller judges a 404
        assert server.served == [404]

    def broken() -> None:
        raise ValueError("not transient")

    with pytest.raises(ValueError, match="not transient"):
        call_with_retries(broken, POLICY, sleep=Sleeps())


def test_a_connection_error_is_transient() -> None:
    server = ScriptedServer([]).start()
    url = server.url
    server.stop()  # nothing listens on the port any more
    sleeps = Sleeps()
    with pytest.raises(Transient, match="connection error: ConnectionError"):
        fetch(url, sleeps)
    assert sleeps == [1.0, 2.0, 3.0]
