"""A Slack-compatible incoming-webhook server for tests: stdlib http.server on 127.0.0.1, port 0, in a thread.

It records every POST (path and JSON body) and answers like Slack: 200 "ok", or the status the test sets.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeWebhook:
    def __init__(self, path: str = "/services/T000/B000/s3cr3tWebhookToken") -> None:
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = None
                fake.requests.append(
                    {"path": self.path, "payload": payload, "content_type": self.headers.get("Content-Type")}
                )
                status = fake.status if self.path == fake.path else 404
                answer = b"ok" if status == 200 else b"no_service"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    @property
    def payloads(self) -> list[Any]:
        return [r["payload"] for r in self.requests]

    def __enter__(self) -> FakeWebhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
