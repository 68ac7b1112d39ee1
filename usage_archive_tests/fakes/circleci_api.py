"""A local HTTP server that speaks the CircleCI Usage API's shapes (fakes/http_server.py: 127.0.0.1, port 0).

POST /organizations/{org}/usage_export_job → 201 {usage_export_job_id, state: created, download_urls: null}
GET  /organizations/{org}/usage_export_job/{id} → the job, one step further along `progression` per GET
GET  /downloads/{id}/{n}.csv.gz?X-Amz-Signature=… → the gzip part (a stand-in for S3 presigned URLs)

Behaviour is scripted per test: statuses to answer instead (429, 500, 401 …), the state progression (with
"completed-no-urls" for CircleCI's completed-without-URLs answer), a failure reason, holding jobs in
"processing", failing jobs whose window is too long as "too large". Every request is recorded, with whether it
carried the token and when (by `clock`, which a test may replace with a fake one).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive.periods import Week
from usage_archive_tests.fakes.http_server import LocalHttpServer

JOB_PATH = re.compile(r"^/api/v2/organizations/([^/]+)/usage_export_job(?:/([^/?]+))?$")
DOWNLOAD_PATH = re.compile(r"^/downloads/([^/]+)/(\d+)\.csv\.gz$")
DEFAULT_PROGRESSION = ("created", "processing", "completed-no-urls", "completed")
# The last week that is over (the newest partition), whatever day the tests run.
LAST_WEEK = Week.last_ended()


def gzip_parts(
    tmp_path: Path, rows: int, parts: int, org_id: str = "org-a", week: Week = LAST_WEEK
) -> list[bytes]:
    """A synthetic export of `rows` job rows in `parts` gzip CSV parts, as the API serves them."""
    all_rows = list(sample_rows(rows, org_id=org_id, weeks=[week.monday]))
    size = -(-len(all_rows) // parts)
    return [
        write_export(tmp_path / f"part{i}.csv.gz", all_rows[i * size : (i + 1) * size]).read_bytes()
        for i in range(parts)
    ]


@dataclass
class Recorded:
    method: str
    path: str
    had_token: bool
    body: Any = None
    at: float = 0.0  # the fake API's clock when the request arrived


@dataclass
class FakeJob:
    job_id: str
    org_id: str
    start: str
    end: str
    step: int = 0


@dataclass
class FakeUsageApi(LocalHttpServer):
    token: str = "cci-secret-token-123"
    org_ids: tuple[str, ...] = ("org-a",)
    forbidden_org_ids: tuple[str, ...] = ()
    parts: list[bytes] = field(default_factory=list)  # gzip payloads served for every job
    progression: tuple[str, ...] = DEFAULT_PROGRESSION
    fail_reason: str | None = None  # when set, the job ends as failed instead of completed
    hold: bool = False  # keep jobs "processing" (a long export)
    # Jobs whose window is longer than this end "failed" with a result-too-large reason (the 100 MB cap).
    too_large_over: timedelta | None = None
    too_large_reason: str = "Export failed: result size exceeds the 100 MB limit, use a shorter time range"
    clock: Callable[[], float] = time.monotonic
    post_statuses: list[int] = field(default_factory=list)  # answered (and consumed) before a real POST
    get_statuses: list[int] = field(default_factory=list)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- observations -----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v2"

    @property
    def posts(self) -> int:
        return sum(1 for r in self.requests if r.method == "POST")

    # -- serving ---------------------------------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        body = None
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
        with self.lock:
            self.requests.append(
                Recorded(
                    method, handler.path, handler.headers.get("Circle-Token") is not None, body, self.clock()
                )
            )
        download = DOWNLOAD_PATH.match(path)
        if download and method == "GET":
            index = int(download.group(2))
            if "X-Amz-Signature" not in handler.path or index >= len(self.parts):
                return self.send(handler, 403, b"<Error>AccessDenied</Error>", "application/xml")
            return self.send(handler, 200, self.parts[index], "application/gzip")
        match = JOB_PATH.match(path)
        if not match:
            return self.send(handler, 404, {"message": "Not found"})
        if handler.headers.get("Circle-Token") != self.token:
            return self.send(handler, 401, {"message": "Invalid token provided."})
        org_id, job_id = match.group(1), match.group(2)
        if org_id in self.forbidden_org_ids:
            return self.send(handler, 403, {"message": "Permission denied"})
        if org_id not in self.org_ids:
            return self.send(handler, 404, {"message": "Organization not found"})
        with self.lock:
            scripted = self.post_statuses if method == "POST" else self.get_statuses
            status = scripted.pop(0) if scripted else None
        if status == 429:
            return self.send(handler, 429, {"message": "Rate limit exceeded."})
        if status is not None:
            return self.send(handler, status, {"message": f"scripted {status}"})
        if method == "POST" and job_id is None:
            if (
                not isinstance(body, dict)
                or set(body) - {"start", "end", "shared_org_ids"}
                or not {"start", "end"} <= set(body)
            ):
                return self.send(handler, 400, {"message": "start and end are required"})
            job = FakeJob(str(uuid.uuid4()), org_id, body["start"], body["end"])
            with self.lock:
                self.jobs[job.job_id] = job
            return self.send(handler, 201, self.describe(job, "created"))
        if method == "GET" and job_id:
            job = self.jobs.get(job_id)
            if job is None or job.org_id != org_id:
                return self.send(handler, 404, {"message": "Usage export job not found"})
            with self.lock:
                state = "processing" if self.hold else self.progression[job.step]
                if not self.hold:
                    job.step = min(job.step + 1, len(self.progression) - 1)
            return self.send(handler, 200, self.describe(job, state))
        return self.send(handler, 405, {"message": "Method not allowed"})

    def describe(self, job: FakeJob, state: str) -> dict[str, Any]:
        urls = None
        reason = self.fail_reason
        if self.too_large_over is not None and self.window_of(job) > self.too_large_over:
            reason = self.too_large_reason
        if state == "completed" and reason:
            state = "failed"
        if state == "completed":
            urls = [
                f"{self.origin}/downloads/{job.job_id}/{i}.csv.gz?X-Amz-Signature=s3cr3t&X-Amz-Expires=3600"
                for i in range(len(self.parts))
            ]
        if state == "completed-no-urls":
            state = "completed"
        body: dict[str, Any] = {
            "usage_export_job_id": job.job_id,
            "state": state,
            "start": job.start,
            "end": job.end,
            "download_urls": urls,
        }
        if state == "failed":
            body["error_reason"] = reason
        return body

    @staticmethod
    def window_of(job: FakeJob) -> timedelta:
        return datetime.fromisoformat(job.end.replace("Z", "+00:00")) - datetime.fromisoformat(
            job.start.replace("Z", "+00:00")
        )

    def job_windows(self) -> list[tuple[str, str]]:
        """(start, end) of every POST, in order."""
        return [(r.body["start"], r.body["end"]) for r in self.requests if r.method == "POST"]

    def status_check_times(self, org_id: str) -> list[float]:
        """When each GET of an export job of `org_id` arrived."""
        return [
            r.at
            for r in self.requests
            if r.method == "GET" and f"/organizations/{org_id}/usage_export_job/" in r.path
        ]
