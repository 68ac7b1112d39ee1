"""A Slack-compatible incoming-webhook server for tests (fakes/http_server.py: 127.0.0.1, port 0).

It records every POST (path and JSON body) and answers like Slack: 200 "ok", or the status the test sets.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from usage_archive_tests.fakes.http_server import LocalHttpServer


class FakeWebhook(LocalHttpServer):
    def __init__(self, path: str = "/services/T000/B000/s3cr3tWebhookToken") -> None:
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"{self.origin}{self.path}"

    @property
    def payloads(self) -> list[Any]:
        return [r["payload"] for r in self.requests]

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        self.requests.append(
            {"path": handler.path, "payload": payload, "content_type": handler.headers.get("Content-Type")}
        )
        status = self.status if handler.path == self.path else 404
        self.send(handler, status, b"ok" if status == 200 else b"no_service", "text/plain")
