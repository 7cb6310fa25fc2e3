"""A scripted OpenAI-compatible chat server on loopback that streams tool calls the way the OpenAI
API does (id and name in the first delta, the arguments JSON in fragments, finish reason
"tool_calls"), and records every request body, for the hosted adapter's wire tests.

The llama.cpp server stands in for the hosted API elsewhere; it cannot be made to call a tool on
cue, so this one answers from a script. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Chunk = dict[str, Any]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> Chunk:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def tool_call_stream(name: str, arguments: str, *, call_id: str = "call_abc", pieces: int = 3) -> list[Chunk]:
    """One tool call, its arguments split into `pieces` fragments."""
    size = max(1, len(arguments) // pieces + 1)
    fragments = [arguments[i : i + size] for i in range(0, len(arguments), size)]
    first = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    chunks = [_chunk({"role": "assistant", "content": None, "tool_calls": [first]})]
    chunks += [_chunk({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}) for f in fragments]
    return [*chunks, _chunk({}, "tool_calls")]


def text_stream(text: str) -> list[Chunk]:
    words = text.split(" ")
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
    return [*chunks, _chunk({}, "stop")]


class ScriptedOpenAI:
    """Answers each chat-completion request with the next scripted stream; records bodies."""

    def __init__(self) -> None:
        self.script: deque[list[Chunk]] = deque()
        self.bodies: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def raw_requests(self) -> str:
        return "\n".join(json.dumps(body) for body in self.bodies)

    def start(self) -> ScriptedOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                server.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                chunks = server.script.popleft() if server.script else text_stream("unscripted")
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                for line in _sse(chunks):
                    self.wfile.write(line)
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _sse(chunks: list[Chunk]) -> Iterator[bytes]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    yield b"data: [DONE]\n\n"
