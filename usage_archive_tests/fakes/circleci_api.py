"""A local HTTP server that speaks the CircleCI Usage API's shapes (stdlib http.server, 127.0.0.1, port 0).

POST /organizations/{org}/usage_export_job → 201 {usage_export_job_id, state: created, download_urls: null}
GET  /organizations/{org}/usage_export_job/{id} → the job, one step further along `progression` per GET
GET  /downloads/{id}/{n}.csv.gz?X-Amz-Signature=… → the gzip part (a stand-in for S3 presigned URLs)

Behaviour is scripted per test: statuses to answer instead (429, 500, 401 …), the state progression (with
"completed-no-urls" for CircleCI's completed-without-URLs answer), a failure reason, holding jobs in
"processing". Every request is recorded, with whether it carried the token.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive.circleci.weekly import week_start_of

JOB_PATH = re.compile(r"^/api/v2/organizations/([^/]+)/usage_export_job(?:/([^/?]+))?$")
DOWNLOAD_PATH = re.compile(r"^/downloads/([^/]+)/(\d+)\.csv\.gz$")
DEFAULT_PROGRESSION = ("created", "processing", "completed-no-urls", "completed")
# The last week that is over (the newest partition), whatever day the tests run.
LAST_WEEK: date = week_start_of(datetime.now(timezone.utc).date()) - timedelta(days=7)


def gzip_parts(
    tmp_path: Path, rows: int, parts: int, org_id: str = "org-a", week: date = LAST_WEEK
) -> list[bytes]:
    """A synthetic export of `rows` job rows in `parts` gzip CSV parts, as the API serves them."""
    all_rows = list(sample_rows(rows, org_id=org_id, weeks=[week]))
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


@dataclass
class FakeJob:
    job_id: str
    org_id: str
    start: str
    end: str
    step: int = 0


@dataclass
class FakeUsageApi:
    token: str = "cci-secret-token-123"
    org_ids: tuple[str, ...] = ("org-a",)
    forbidden_org_ids: tuple[str, ...] = ()
    parts: list[bytes] = field(default_factory=list)  # gzip payloads served for every job
    progression: tuple[str, ...] = DEFAULT_PROGRESSION
    fail_reason: str | None = None  # when set, the job ends as failed instead of completed
    hold: bool = False  # keep jobs "processing" (a long export)
    post_statuses: list[int] = field(default_factory=list)  # answered (and consumed) before a real POST
    get_statuses: list[int] = field(default_factory=list)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    # -- observations -----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/api/v2"

    @property
    def posts(self) -> int:
        return sum(1 for r in self.requests if r.method == "POST")

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> FakeUsageApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                path = self.path.split("?", 1)[0]
                body = None
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    raw = self.rfile.read(length) if length else b""
                    body = json.loads(raw) if raw else None
                with api.lock:
                    api.requests.append(
                        Recorded(method, self.path, self.headers.get("Circle-Token") is not None, body)
                    )
                download = DOWNLOAD_PATH.match(path)
                if download and method == "GET":
                    index = int(download.group(2))
                    if "X-Amz-Signature" not in self.path or index >= len(api.parts):
                        return self._send(403, b"<Error>AccessDenied</Error>", "application/xml")
                    return self._send(200, api.parts[index], "application/gzip")
                match = JOB_PATH.match(path)
                if not match:
                    return self._send(404, {"message": "Not found"})
                if self.headers.get("Circle-Token") != api.token:
                    return self._send(401, {"message": "Invalid token provided."})
                org_id, job_id = match.group(1), match.group(2)
                if org_id in api.forbidden_org_ids:
                    return self._send(403, {"message": "Permission denied"})
                if org_id not in api.org_ids:
                    return self._send(404, {"message": "Organization not found"})
                with api.lock:
                    scripted = api.post_statuses if method == "POST" else api.get_statuses
                    status = scripted.pop(0) if scripted else None
                if status == 429:
                    return self._send(429, {"message": "Rate limit exceeded."})
                if status is not None:
                    return self._send(status, {"message": f"scripted {status}"})
                if method == "POST" and job_id is None:
                    if (
                        not isinstance(body, dict)
                        or set(body) - {"start", "end", "shared_org_ids"}
                        or not {"start", "end"} <= set(body)
                    ):
                        return self._send(400, {"message": "start and end are required"})
                    job = FakeJob(str(uuid.uuid4()), org_id, body["start"], body["end"])
                    with api.lock:
                        api.jobs[job.job_id] = job
                    return self._send(201, api.describe(job, "created"))
                if method == "GET" and job_id:
                    job = api.jobs.get(job_id)
                    if job is None or job.org_id != org_id:
                        return self._send(404, {"message": "Usage export job not found"})
                    with api.lock:
                        state = "processing" if api.hold else api.progression[job.step]
                        if not api.hold:
                            job.step = min(job.step + 1, len(api.progression) - 1)
                    return self._send(200, api.describe(job, state))
                return self._send(405, {"message": "Method not allowed"})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def describe(self, job: FakeJob, state: str) -> dict[str, Any]:
        host, port = self.server.server_address[:2]  # type: ignore[union-attr]
        urls = None
        if state == "completed" and self.fail_reason:
            state = "failed"
        if state == "completed":
            urls = [
                f"http://{host}:{port}/downloads/{job.job_id}/{i}.csv.gz?X-Amz-Signature=s3cr3t&X-Amz-Expires=3600"
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
            body["error_reason"] = self.fail_reason
        return body


def materialize_usage_csv_in_child(
    archive_url: str, s3_endpoint: str, api_url: str, token: str, org_id: str, partition: str
) -> None:
    """Run in a separate process by the restart test (which kills it): materialize circleci/usage_csv."""
    import dagster as dg
    from dagster_aws.s3 import S3Resource

    from usage_archive.defs.circleci.assets import usage_csv
    from usage_archive.resources.archive_store import ArchiveStoreResource
    from usage_archive.resources.circleci import CircleCIResource

    dg.materialize(
        [usage_csv],
        partition_key=partition,
        resources={
            "archive_store": ArchiveStoreResource(url=archive_url, s3=S3Resource(endpoint_url=s3_endpoint)),
            "circleci": CircleCIResource(
                token=token,
                org_ids=org_id,
                api_url=api_url,
                poll_initial_seconds=0.05,
                poll_max_seconds=0.05,
                poll_deadline_seconds=600,
            ),
        },
    )


def usage_resources(
    api: FakeUsageApi, endpoint: str, bucket: str, prefix: str = "archive", **circleci: object
) -> dict[str, object]:
    """archive_store on the moto bucket and circleci on the fake API, with millisecond polling."""
    from dagster_aws.s3 import S3Resource

    from usage_archive.resources.archive_store import ArchiveStoreResource
    from usage_archive.resources.circleci import CircleCIResource

    settings = {
        "token": api.token,
        "org_ids": "org-a",
        "api_url": api.base_url,
        "poll_initial_seconds": 0.001,
        "poll_max_seconds": 0.005,
        "poll_deadline_seconds": 10,
        "rate_limit_wait_seconds": 0.001,
        **circleci,
    }
    return {
        "archive_store": ArchiveStoreResource(
            url=f"s3://{bucket}/{prefix}", s3=S3Resource(endpoint_url=endpoint)
        ),
        "circleci": CircleCIResource(**settings),
    }
