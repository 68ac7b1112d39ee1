"""A fake GitHub REST API on 127.0.0.1 (stdlib http.server in a thread) speaking GitHub's shapes.

Covers what the GitHub Actions archive uses: organisation repositories, workflows, workflow runs with the
`created` filter and the 1,000-result cap, jobs with `filter=all|latest`, `Link` pagination, Bearer tokens
(401 "Bad credentials"), 404 for unknown repositories, the primary rate limit (`x-ratelimit-*` headers, 403 when
used up, restored at the reset time of a shared fake clock) and secondary limits (429/403 with `retry-after`, or
403 without headers). Every request is recorded for assertions.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

RESULT_CAP = 1000


@dataclass
class FakeClock:
    """Epoch seconds shared by the server's rate limit and the client's sleep: sleeping advances it."""

    now: float = 1_767_600_000.0  # 2026-01-05T08:00:00Z
    sleeps: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_run(
    run_id: int,
    created: datetime,
    *,
    workflow_id: int = 1,
    name: str = "CI",
    path: str = ".github/workflows/ci.yml",
    run_attempt: int = 1,
    event: str = "push",
    branch: str = "main",
    conclusion: str | None = "success",
    repository: str = "octo/api",
) -> dict[str, Any]:
    return {
        "id": run_id,
        "name": name,
        "path": path,
        "workflow_id": workflow_id,
        "run_number": run_id % 100000,
        "run_attempt": run_attempt,
        "event": event,
        "head_branch": branch,
        "head_sha": f"{run_id:040x}",
        "status": "completed" if conclusion else "in_progress",
        "conclusion": conclusion,
        "created_at": iso(created),
        "updated_at": iso(created + timedelta(minutes=10)),
        "run_started_at": iso(created),
        "repository": {"full_name": repository},
    }


def make_job(
    job_id: int,
    run: dict[str, Any],
    *,
    attempt: int = 1,
    queued_seconds: int = 5,
    run_seconds: int | None = 61,
    labels: list[str] | None = None,
    name: str = "build",
    conclusion: str | None = "success",
    runner_group: str = "GitHub Actions",
    offset_seconds: int = 0,
) -> dict[str, Any]:
    created = datetime.fromisoformat(run["created_at"].replace("Z", "+00:00")) + timedelta(
        seconds=offset_seconds
    )
    started = created + timedelta(seconds=queued_seconds)
    return {
        "id": job_id,
        "run_id": run["id"],
        "run_attempt": attempt,
        "workflow_name": run["name"],
        "head_branch": run["head_branch"],
        "name": name,
        "status": "completed" if run_seconds is not None else "in_progress",
        "conclusion": conclusion,
        "created_at": iso(created),
        "started_at": iso(started),
        "completed_at": iso(started + timedelta(seconds=run_seconds)) if run_seconds is not None else None,
        "labels": labels if labels is not None else ["ubuntu-latest"],
        "runner_id": job_id,
        "runner_name": f"runner-{job_id}",
        "runner_group_id": 1,
        "runner_group_name": runner_group,
    }


@dataclass
class FakeRepository:
    full_name: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # run id → jobs of every attempt
    workflows: list[dict[str, Any]] = field(default_factory=list)

    def add_run(self, run: dict[str, Any], jobs: list[dict[str, Any]]) -> None:
        self.runs.append(run)
        self.jobs[run["id"]] = jobs


def _parse_bound(text: str, end: bool) -> datetime:
    if "T" in text:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    day = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    return day + timedelta(days=1) - timedelta(seconds=1) if end else day


class FakeGitHub:
    """Start with `with FakeGitHub(...) as github:`; `github.api_url` is the base to configure."""

    def __init__(
        self, token: str = "ghp_fake_token_0123456789", *, clock: FakeClock | None = None, prefix: str = ""
    ) -> None:
        self.token = token
        self.clock = clock or FakeClock()
        self.prefix = prefix  # "/api/v3" imitates GitHub Enterprise Server
        self.repositories: dict[str, FakeRepository] = {}
        self.organizations: dict[str, list[str]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.authorization_headers: list[str] = []
        self.lock = threading.Lock()
        # primary rate limit: None = unlimited
        self.rate_limit: int | None = None
        self.rate_limit_window = 60.0
        self.remaining: int | None = None
        self.reset_at: float = 0.0
        self.reset_header = True  # False: answer without x-ratelimit-reset, as some proxies do
        # secondary limits: the next N requests answer like this
        self.secondary: list[tuple[int, int | None]] = []  # (status, retry-after seconds or None)
        self.forbidden: set[str] = set()  # repositories the token may not read (403, no rate-limit headers)
        self._server: ThreadingHTTPServer | None = None

    # -- data ----------------------------------------------------------------------------------------------------
    def repository(self, full_name: str) -> FakeRepository:
        return self.repositories.setdefault(full_name, FakeRepository(full_name))

    def set_rate_limit(self, limit: int, window_seconds: float) -> None:
        self.rate_limit, self.rate_limit_window, self.remaining = limit, window_seconds, limit
        self.reset_at = self.clock.time() + window_seconds

    def paths(self, contains: str = "") -> list[str]:
        return [p for p, _ in self.requests if contains in p]

    # -- server --------------------------------------------------------------------------------------------------
    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def api_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    # -- responses -----------------------------------------------------------------------------------------------
    def _send(
        self, handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _rate_headers(self) -> dict[str, str]:
        if self.rate_limit is None:
            return {}
        headers = {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-resource": "core",
        }
        if self.reset_header:
            headers["x-ratelimit-reset"] = str(int(self.reset_at))
        return headers

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((parts.path, query))
            self.authorization_headers.append(handler.headers.get("Authorization", ""))
            if handler.headers.get("Authorization") != f"Bearer {self.token}":
                return self._send(
                    handler,
                    401,
                    {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                )
            if self.secondary:
                status, retry_after = self.secondary.pop(0)
                headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
                return self._send(
                    handler,
                    status,
                    {
                        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                        "try again."
                    },
                    headers,
                )
            if self.rate_limit is not None:
                if self.clock.time() >= self.reset_at:
                    self.remaining, self.reset_at = (
                        self.rate_limit,
                        self.clock.time() + self.rate_limit_window,
                    )
                if self.remaining == 0:
                    return self._send(
                        handler,
                        403,
                        {"message": "API rate limit exceeded for user ID 1."},
                        self._rate_headers(),
                    )
                self.remaining -= 1
            path = parts.path.removeprefix(self.prefix)
            status, body, headers = self._route(path, query)
            self._send(handler, status, body, {**headers, **self._rate_headers()})

    def _page(
        self, path: str, query: dict[str, str], items: list[Any], visible: int | None = None
    ) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` (only the first `visible` are reachable) and its Link header."""
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        reachable = items[:visible] if visible is not None else items
        chunk = reachable[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(reachable) // per_page))
        links = []
        for rel, number in (("next", page + 1), ("last", last)):
            if rel == "next" and page >= last:
                continue
            links.append(f'<{self.api_url}{path}?{urlencode({**query, "page": number})}>; rel="{rel}"')
        return chunk, ({"Link": ", ".join(links)} if links else {})

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        not_found = (404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {})
        if match := re.fullmatch(r"/orgs/([^/]+)/repos", path):
            if match[1] not in self.organizations:
                return not_found
            repos = [
                {"full_name": n, "name": n.split("/")[1], "private": True, "visibility": "internal"}
                for n in self.organizations[match[1]]
            ]
            chunk, headers = self._page(path, query, repos)
            return 200, chunk, headers
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/actions/(.+)", path)
        if not match or match[1] not in self.repositories:
            return not_found
        repo, rest = self.repositories[match[1]], match[2]
        if repo.full_name in self.forbidden:
            return 403, {"message": "Resource not accessible by personal access token"}, {}
        if rest == "workflows":
            chunk, headers = self._page(path, query, repo.workflows)
            return 200, {"total_count": len(repo.workflows), "workflows": chunk}, headers
        if rest == "runs":
            runs = sorted(repo.runs, key=lambda r: (r["created_at"], r["id"]), reverse=True)
            if "created" in query:
                low, high = query["created"].split("..")
                start, end = _parse_bound(low, end=False), _parse_bound(high, end=True)
                runs = [
                    r
                    for r in runs
                    if start <= datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) <= end
                ]
            chunk, headers = self._page(path, query, runs, visible=RESULT_CAP)
            return 200, {"total_count": len(runs), "workflow_runs": chunk}, headers
        if match := re.fullmatch(r"runs/(\d+)/jobs", rest):
            run_id = int(match[1])
            if run_id not in repo.jobs:
                return not_found
            jobs = sorted(repo.jobs[run_id], key=lambda j: j["id"])
            if query.get("filter", "latest") == "latest":
                latest = max((j["run_attempt"] for j in jobs), default=1)
                jobs = [j for j in jobs if j["run_attempt"] == latest]
            chunk, headers = self._page(path, query, jobs)
            return 200, {"total_count": len(jobs), "jobs": chunk}, headers
        if re.fullmatch(r"runs/\d+/timing", rest):
            return 410, {"message": "This endpoint is closing down"}, {}
        return not_found
