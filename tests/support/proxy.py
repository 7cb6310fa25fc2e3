"""A fault-injecting HTTP proxy on loopback, in front of the test OpenAI-compatible server.

It records every request body it receives (so a test can assert that a canary value never
reached the "hosted" endpoint) and, per test, injects one fault on chat-completion requests:
HTTP 500, 429 with `Retry-After`, a connection reset, a hung socket, a stream cut in the middle,
401, malformed JSON or malformed SSE. A fault is one-shot, "N times then pass", or persistent.
The proxy runs its own event loop on a background thread so sync and async tests can share it.
It speaks just enough HTTP/1.1 for the openai SDK: one request per connection (`Connection:
close`), bodies with Content-Length. It never connects anywhere but its loopback upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

FaultKind = Literal[
    "http_500", "rate_limit", "reset", "hang", "cut", "auth_401", "bad_json", "bad_sse", "script", "echo"
]  # fmt: skip
FAULT_KINDS: tuple[FaultKind, ...] = (
    "http_500", "rate_limit", "reset", "hang", "cut", "auth_401", "bad_json", "bad_sse",
)  # fmt: skip

T = TypeVar("T")
_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or while) forwarding. `times=None` means every request."""

    kind: FaultKind
    times: int | None = 1
    retry_after: float = 1.0
    # For "cut": forward this many SSE events of the upstream answer, then drop the connection.
    cut_after_events: int = 4
    # For "script": answer with exactly these stream pieces (e.g. a placeholder split in two),
    # as a well-formed SSE stream, without asking the upstream model. For "echo": answer with
    # the request's last user message, word by word (what a hosted model saw, handed back).
    chunks: tuple[str, ...] = ()


@dataclass(eq=False)
class Exchange:
    """One request the proxy received, and what happened to it."""

    method: str
    path: str
    body: str
    fault: FaultKind | None = None
    status: int | None = None
    # Set when the client closed its connection before the answer was complete
    # (before `data: [DONE]` or the end of the upstream response was relayed).
    client_closed: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    """HTTP proxy on 127.0.0.1 that forwards to `upstream_port`, recording and injecting faults."""

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.exchanges: list[Exchange] = []
        self._fault: Fault | None = None
        self._remaining: int | None = None
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # -- control (any thread) -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[str]:
        """Every request body received so far, as text, in arrival order."""
        with self._lock:
            return [exchange.body for exchange in self.exchanges]

    def chat_exchanges(self) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.path.endswith("/chat/completions")]

    def set_fault(self, kind: FaultKind, *, times: int | None = 1, **params: Any) -> None:
        """Inject `kind` on the next `times` chat requests (None: on all of them)."""
        with self._lock:
            self._fault = Fault(kind=kind, times=times, **params)
            self._remaining = times

    def clear(self) -> None:
        """No fault any more, and forget the recorded requests."""
        with self._lock:
            self._fault = None
            self._remaining = None
            self.exchanges.clear()

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def take_down(self) -> None:
        """Stop listening: new connections are refused, as when the endpoint is down."""
        self._call(self._unlisten())

    def bring_up(self) -> None:
        self._call(self._listen())

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def _take_fault(self, path: str) -> Fault | None:
        if not path.endswith("/chat/completions"):
            return None
        with self._lock:
            fault = self._fault
            if fault is None:
                return None
            if self._remaining is not None:
                if self._remaining <= 0:
                    return None
                self._remaining -= 1
            return fault

    # -- event loop side ------------------------------------------------------------------
    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", self.port or 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _shutdown(self) -> None:
        await self._unlisten()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away: nothing to answer
        finally:
            self._handlers.discard(task)
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(_HEAD_END)
        method, path, headers = _parse_head(head)
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        exchange = Exchange(method=method, path=path, body=body.decode("utf-8", "replace"))
        with self._lock:
            self.exchanges.append(exchange)
        fault = self._take_fault(path)
        exchange.fault = fault.kind if fault else None
        try:
            await self._respond(fault, head, body, reader, writer, exchange)
        finally:
            exchange.finished.set()

    async def _respond(
        self,
        fault: Fault | None,
        head: bytes,
        body: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        exchange: Exchange,
    ) -> None:
        if fault is None:
            await self._forward(head, body, reader, writer, exchange)
        elif fault.kind == "cut":
            await self._cut(fault, body, writer, exchange)
        elif fault.kind == "hang":
            await self._watch_client(reader, exchange)  # accepts, reads, never answers
        elif fault.kind == "reset":
            _reset(writer)
        elif fault.kind == "echo":
            exchange.status = 200
            sse = _scripted_sse(_last_user_words(body))
            writer.write(_response(200, "OK", sse, content_type="text/event-stream"))
            await writer.drain()
        else:
            status, response = _canned(fault)
            exchange.status = status
            writer.write(response)
            await writer.drain()

    async def _cut(self, fault: Fault, body: bytes, writer: asyncio.StreamWriter, exchange: Exchange) -> None:
        """A streamed answer whose connection drops after `cut_after_events` events.

        Scripted (the user's words), not forwarded: the first words go out at once however loaded
        the machine is, so the cut always lands mid-answer. Forwarded, a slow upstream on a loaded
        machine sometimes missed the client's first-token timeout and the turn fell back instead."""
        exchange.status = 200
        words = _last_user_words(body)
        pieces = tuple(words[i % len(words)] for i in range(fault.cut_after_events + 2))
        response = _response(200, "OK", _scripted_sse(pieces), content_type="text/event-stream")
        end = response.index(_HEAD_END) + len(_HEAD_END)
        for _ in range(fault.cut_after_events):
            end = response.index(b"\n\n", end) + 2
        writer.write(response[:end])
        await writer.drain()
        # A clean FIN mid-body: what arrived is delivered, then the body ends early.
        writer.transport.close()

    async def _forward(
        self,
        head: bytes,
        body: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        exchange: Exchange,
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            exchange.status = 502
            writer.write(_response(502, "Bad Gateway", {"error": {"message": "upstream is down"}}))
            await writer.drain()
            return
        try:
            up_writer.write(_rewrite_head(head, upstream=self.upstream) + body)
            await up_writer.drain()
            relay = asyncio.ensure_future(self._relay(up_reader, writer, exchange))
            watch = asyncio.ensure_future(self._watch_client(reader, exchange))
            await asyncio.wait({relay, watch}, return_when=asyncio.FIRST_COMPLETED)
            for task in (relay, watch):
                task.cancel()
            await asyncio.gather(relay, watch, return_exceptions=True)
        finally:
            up_writer.transport.abort()

    async def _relay(
        self,
        up_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        exchange: Exchange,
    ) -> None:
        response_head = await up_reader.readuntil(_HEAD_END)
        exchange.status = int(response_head.split(b" ", 2)[1])
        writer.write(_force_close(response_head))
        tail = b""
        while chunk := await up_reader.read(65536):
            writer.write(chunk)
            # The answer is complete once its end marker went out (before any await, so the
            # client cannot have read it yet): a client closing after that is not "closed early".
            if b"data: [DONE]" in tail + chunk:
                exchange.finished.set()
            tail = chunk[-16:]
            await writer.drain()
        exchange.finished.set()

    async def _watch_client(self, reader: asyncio.StreamReader, exchange: Exchange) -> None:
        """Return when the client closes its side (EOF or reset)."""
        with contextlib.suppress(ConnectionError, OSError):
            while await reader.read(4096):
                pass
        if not exchange.finished.is_set():
            exchange.client_closed.set()


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


def _rewrite_head(head: bytes, *, upstream: tuple[str, int]) -> bytes:
    """Point Host at the upstream and ask it to close after one response (EOF ends the relay)."""
    lines = head.decode("latin-1").split("\r\n")
    kept = [
        line for line in lines[1:] if line and line.split(":", 1)[0].lower() not in ("host", "connection")
    ]
    out = [lines[0], f"Host: {upstream[0]}:{upstream[1]}", "Connection: close", *kept]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


def _force_close(head: bytes) -> bytes:
    lines = head.decode("latin-1").split("\r\n")
    kept = [line for line in lines[1:] if line and line.split(":", 1)[0].lower() != "connection"]
    return ("\r\n".join([lines[0], *kept, "Connection: close"]) + "\r\n\r\n").encode("latin-1")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _response(
    status: int,
    reason: str,
    payload: object | bytes,
    *,
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "Connection": "close"}
    headers.update(extra or {})
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


_BROKEN_SSE = (
    b'data: {"id": "chatcmpl-x", "object": "chat.completion.chunk", "choices": [{"index": 0, '
    b'"delta": {"content": "Hel\n\ndata: [DONE]\n\n'
)


def _scripted_sse(chunks: tuple[str, ...]) -> bytes:
    events = []
    for index, text in enumerate((*chunks, None)):
        choice = {"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": None}
        if text is None:
            choice["finish_reason"] = "stop"
        chunk = {
            "id": f"chatcmpl-script-{index}",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "test-hosted",
            "choices": [choice],
        }
        events.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    return b"".join(events) + b"data: [DONE]\n\n"


def _last_user_words(body: bytes) -> tuple[str, ...]:
    messages = json.loads(body or b"{}").get("messages", [])
    text = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    return tuple(word + " " for word in str(text).split()) or ("(empty)",)


def _canned(fault: Fault) -> tuple[int, bytes]:
    """The bytes a broken endpoint would send for each non-forwarding fault."""
    if fault.kind == "http_500":
        return 500, _response(
            500, "Internal Server Error", {"error": {"message": "injected", "type": "server"}}
        )
    if fault.kind == "rate_limit":
        extra = {"Retry-After": f"{fault.retry_after:g}"}
        return 429, _response(429, "Too Many Requests", {"error": {"message": "slow down"}}, extra=extra)
    if fault.kind == "auth_401":
        payload = {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
        return 401, _response(401, "Unauthorized", payload)
    if fault.kind == "bad_json":
        return 200, _response(200, "OK", b'{"id": "chatcmpl-x", "choices": [{"delta": ')
    if fault.kind == "bad_sse":
        return 200, _response(200, "OK", _BROKEN_SSE, content_type="text/event-stream")
    if fault.kind == "script":
        return 200, _response(200, "OK", _scripted_sse(fault.chunks), content_type="text/event-stream")
    raise ValueError(f"fault {fault.kind!r} has no canned response")
