"""The base of every fake service: a stdlib HTTP server on 127.0.0.1 (port 0) in a daemon thread.

Use it as `with FakeX(...) as fake:` or `fake = FakeX(...).start()` … `fake.stop()`. Subclasses implement
`handle(handler, method)` and answer with `send`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

Server = TypeVar("Server", bound="LocalHttpServer")


class LocalHttpServer:
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self: Server) -> Server:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self: Server) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>` of the running server."""
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- answering ---------------------------------------------------------------------------------------------
    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)


class ScriptedServer(LocalHttpServer):
    """Answers each request with the next (status, headers) of its script, then 200 once the script is used up."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.served: list[int] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.origin}/thing"

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        with self.lock:
            status, headers = self.script.pop(0) if self.script else (200, {})
            self.served.append(status)
        self.send(handler, status, {"status": status}, headers=headers)
