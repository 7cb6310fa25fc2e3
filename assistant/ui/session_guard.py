"""Chainlit's live chat sessions, owner-only and indistinguishable from sessions that do not exist.

Chainlit keys a live chat by an id the browser chooses (`sessionId`), and several HTTP routes
(file upload and download, actions, custom elements) name that session. Its own checks answer
someone else's session differently from a missing one (401 "not authorized" against 404 "Session
not found", a refused websocket against a new session), which tells a signed-in user that an id is
live; and a websocket `threadId` naming someone else's thread becomes the new chat's thread id,
so what the user writes is silently dropped and reading it back tells them the thread exists.

- `SessionRouteGuard` (pure ASGI): a route naming a session that is missing or not the
  requester's gets the same 404, before Chainlit sees the request.
- `SessionGuard.install(sio)`: a websocket naming someone else's live session gets a fresh session
  of its own under an alias remembered per account (so its reconnects and HTTP calls reach it,
  exactly as with an unused id), and a `threadId` the account cannot read never becomes the id of
  its chat's thread.

It never lets one account reach another's session and never changes what an owner gets.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from assistant.governance.requester import acting_as, identity_from_token, token_from_scope

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Chainlit routes that name a websocket session: where the id is (query parameter or JSON body field).
QUERY_ROUTES = {("POST", "/project/file"): "session_id", ("GET", "/project/file/"): "session_id"}
BODY_ROUTES = {
    ("POST", "/project/action"): "sessionId",
    ("PUT", "/project/element"): "sessionId",
    ("DELETE", "/project/element"): "sessionId",
}
MAX_BODY = 256 * 1024
NOT_FOUND = b'{"detail":"Session not found"}'


def _live_session(session_id: str) -> Any:
    from chainlit.session import WebsocketSession

    return WebsocketSession.get_by_id(session_id) if session_id else None


def _owner(session: Any) -> str | None:
    return session.user.identifier if getattr(session, "user", None) else None


class SessionGuard:
    """Which live session an account's session id means, and the websocket connect hook."""

    def __init__(self) -> None:
        self._aliases: dict[tuple[str | None, str], str] = {}

    def resolve(self, account: str | None, session_id: str) -> str | None:
        """The live session `session_id` means for `account`, or None (missing, or someone else's)."""
        alias = self._alias(account, session_id)
        if alias is not None:
            return alias
        session = _live_session(session_id)
        return session_id if session is not None and _owner(session) == account else None

    def _alias(self, account: str | None, session_id: str) -> str | None:
        alias = self._aliases.get((account, session_id))
        if alias is not None and _live_session(alias) is None:
            del self._aliases[(account, session_id)]  # that session ended: the alias means nothing now
            return None
        return alias

    def session_for_connect(self, account: str | None, session_id: str) -> str:
        """The id a connecting websocket's session gets: its own, an alias, or a new alias."""
        alias = self._alias(account, session_id)
        if alias is not None:
            return alias
        session = _live_session(session_id)
        if session is None or _owner(session) == account:
            return session_id
        alias = str(uuid.uuid4())
        self._aliases[(account, session_id)] = alias
        log.warning("a websocket named another account's session; it gets a session of its own")
        return alias

    def install(self, sio: Any) -> None:
        """Wrap Chainlit's Socket.IO `connect` handler (once)."""
        handlers = sio.handlers.setdefault("/", {})
        original = handlers.get("connect")
        if original is None or getattr(original, "_confidante_guarded", False):
            return

        async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None = None) -> Any:
            return await self._connect(original, sid, environ, dict(auth or {}))

        connect._confidante_guarded = True  # type: ignore[attr-defined]
        handlers["connect"] = connect

    async def _connect(self, original: Any, sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> Any:
        account = identity_from_token(token_from_scope(_scope_from_environ(environ)))
        session_id = self.session_for_connect(account, str(auth.get("sessionId") or ""))
        auth["sessionId"] = session_id
        restoring = _live_session(session_id) is not None
        result = await original(sid, environ, auth)
        thread_id = auth.get("threadId")
        if thread_id and not restoring and not await _can_read_thread(account, str(thread_id)):
            session = _live_session(session_id)
            if session is not None and session.thread_id == thread_id:
                # Still answered "Thread not found" (thread_id_to_resume stays), but the chat that
                # follows is a new thread of the user's own, as for an id that never existed.
                session.thread_id = str(uuid.uuid4())
        return result


async def _can_read_thread(account: str | None, thread_id: str) -> bool:
    from chainlit.data import get_data_layer

    data_layer = get_data_layer()
    if data_layer is None or account is None:
        return False
    with acting_as(account):
        return bool(await data_layer.get_thread_author(thread_id))


def _scope_from_environ(environ: dict[str, Any]) -> Scope:
    """The parts of an ASGI scope `token_from_scope` reads, from Socket.IO's WSGI-style environ."""
    headers = []
    for key, header in (("HTTP_COOKIE", b"cookie"), ("HTTP_AUTHORIZATION", b"authorization")):
        if environ.get(key):
            headers.append((header, str(environ[key]).encode("latin-1")))
    return {"headers": headers}


class SessionRouteGuard:
    """Pure ASGI middleware over Chainlit's session-naming routes (see the module docstring)."""

    def __init__(self, app: ASGIApp, guard: SessionGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        account = identity_from_token(token_from_scope(scope))
        if route in QUERY_ROUTES:
            await self._query_route(scope, receive, send, QUERY_ROUTES[route], account)
        else:
            await self._body_route(scope, receive, send, BODY_ROUTES[route], account)

    async def _query_route(
        self, scope: Scope, receive: Receive, send: Send, field: str, account: str | None
    ) -> None:
        params = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = next((value for key, value in params if key == field), "")
        resolved = self.guard.resolve(account, given)
        if resolved is None:
            await _not_found(send)
            return
        rewritten = [(key, resolved if key == field else value) for key, value in params]
        scope = {**scope, "query_string": urlencode(rewritten).encode("latin-1")}
        await self.app(scope, receive, send)

    async def _body_route(
        self, scope: Scope, receive: Receive, send: Send, field: str, account: str | None
    ) -> None:
        body = await _read_body(receive)
        if body is None:
            await _not_found(send)  # larger than any session request Chainlit's UI makes
            return
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        if isinstance(payload, dict) and field in payload:
            resolved = self.guard.resolve(account, str(payload[field] or ""))
            if resolved is None:
                await _not_found(send)
                return
            payload[field] = resolved
            body = json.dumps(payload).encode("utf-8")
        await self.app(_with_length(scope, len(body)), _replay(body, receive), send)


def _route(scope: Scope) -> tuple[str, str] | None:
    if scope["type"] != "http":
        return None
    method, path = scope.get("method", ""), scope.get("path", "")
    if (method, path) in BODY_ROUTES or (method, path) in QUERY_ROUTES:
        return (method, path)
    if method == "GET" and path.startswith("/project/file/") and path.count("/") == 3:
        return ("GET", "/project/file/")
    return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body we read, then the real channel (so a client disconnect is still reported)."""
    sent = False

    async def replayed() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _with_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers") or () if k.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


async def _not_found(send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(NOT_FOUND)).encode())]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": NOT_FOUND})


# One per process, like Chainlit's own registry of live sessions that it guards.
_GUARD = SessionGuard()


def install_session_guard(app: Any) -> SessionGuard:
    """Guard the session routes of `app` and the `connect` event of Chainlit's Socket.IO server."""
    from chainlit.server import sio

    _GUARD.install(sio)
    app.add_middleware(SessionRouteGuard, guard=_GUARD)
    return _GUARD
