"""A loopback HTTP API for the HTTP-tool tests: a real `http.server` in a thread on 127.0.0.1.

It records every request (method, path with query, headers, body) so tests can assert exactly
what left Confidante, and serves a few behaviours: a JSON rates endpoint, an echo for POST, a
huge body, a redirect, an error, a slow answer and a regulated canary.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SSN_CANARY = "078-05-1120"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class ToolServer:
    port: int
    requests: list[Seen] = field(default_factory=list)
    # How long /slow waits before answering (set it above the tool's timeout).
    slow_s: float = 3.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(state: ToolServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _record(self) -> Seen:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            seen = Seen(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            state.requests.append(seen)
            return seen

        def _send(
            self, status: int, body: bytes, content_type: str = "application/json", **headers: str
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            seen = self._record()
            if seen.path.startswith("/rates/"):
                currency = seen.path.removeprefix("/rates/")
                payload = {"currency": currency, "rate": 1.08, "query": seen.query}
                self._send(200, json.dumps(payload).encode())
            elif seen.path == "/big":
                self._send(200, b"y" * 1_000_000, "text/plain")
            elif seen.path == "/redirect":
                self._send(302, b"", "text/plain", Location="http://127.0.0.1:9/elsewhere")
            elif seen.path == "/error":
                self._send(500, b'{"error": "the rates backend is down"}')
            elif seen.path == "/slow":
                time.sleep(state.slow_s)
                self._send(200, b"{}")
            elif seen.path == "/employee":
                self._send(200, json.dumps({"name": "Dana", "ssn": SSN_CANARY}).encode())
            else:
                self._send(404, b'{"error": "no such endpoint"}')

        def do_POST(self) -> None:
            seen = self._record()
            self._send(201, json.dumps({"received": json.loads(seen.body or b"null")}).encode())

        do_PUT = do_POST
        do_DELETE = do_GET

    return Handler


@contextmanager
def running_tool_server() -> Iterator[ToolServer]:
    """Serve on a free loopback port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ToolServer(port=0)))
    state = ToolServer(port=int(server.server_address[1]))
    server.RequestHandlerClass = _handler(state)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
