"""Who is making the current request, for ownership checks deep inside the Chainlit data layer.

Chainlit's own checks are incomplete for a multi-user deployment (its `is_thread_author` answers
404 for unknown ids but 401 for someone else's, which reveals that an id exists; its feedback
endpoints check nothing). `RequesterMiddleware` decodes Chainlit's session token for every HTTP and
websocket request and puts the account name in a context variable; the data layer compares every
thread, step, element and feedback id against it. The middleware also refuses the session of an
account that has since been disabled or removed. It never trusts an identity that is not signed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from http.cookies import SimpleCookie
from typing import Any

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_requester: ContextVar[str | None] = ContextVar("confidante_requester", default=None)
_client_host: ContextVar[str | None] = ContextVar("confidante_client_host", default=None)


def current_requester() -> str | None:
    """The signed-in account name of the current HTTP request or websocket session, else None."""
    value = _requester.get()
    if value is not None:
        return value
    try:  # inside a Chainlit websocket handler, the session's user is authoritative
        from chainlit.context import context

        user = context.session.user
        return user.identifier if user else None
    except Exception:  # no Chainlit context: not a user request
        return None


def current_client_host() -> str | None:
    return _client_host.get()


class acting_as:  # lower case: reads like a function, `with acting_as("alice"):`
    """Run a block as a given requester (CLI, background jobs, tests)."""

    def __init__(self, username: str | None) -> None:
        self._username = username
        self._token: Any = None

    def __enter__(self) -> None:
        self._token = _requester.set(self._username)

    def __exit__(self, *_exc: object) -> None:
        _requester.reset(self._token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def token_from_scope(scope: Scope) -> str | None:
    """Chainlit's session token: its (possibly chunked) cookie, else an Authorization bearer."""
    from chainlit.auth.cookie import get_token_from_cookies

    cookie_header = _header(scope, b"cookie")
    if cookie_header:
        jar = SimpleCookie()
        jar.load(cookie_header)
        token = get_token_from_cookies({key: morsel.value for key, morsel in jar.items()})
        if token:
            return token
    authorization = _header(scope, b"authorization") or ""
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def identity_from_token(token: str | None) -> str | None:
    """The account name inside a valid, signed Chainlit token; None for anything else."""
    if not token:
        return None
    from chainlit.auth.jwt import decode_jwt, get_jwt_secret

    if not get_jwt_secret():
        return None
    try:
        return decode_jwt(token).identifier
    except Exception:  # expired, forged or malformed: anonymous
        return None


class RequesterMiddleware:
    """Pure ASGI middleware: sets the requester for each request; refuses disabled accounts' sessions."""

    def __init__(self, app: ASGIApp, is_active: Callable[[str], bool] | None = None, cache_s: float = 5.0):
        self.app = app
        self._is_active = is_active
        self._cache: dict[str, tuple[float, bool]] = {}
        self._cache_s = cache_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        username = identity_from_token(token_from_scope(scope))
        if username is not None and not self._active(username):
            await _refuse(scope, send)
            return
        client = scope.get("client")
        tokens = (_requester.set(username), _client_host.set(client[0] if client else None))
        try:
            await self.app(scope, receive, send)
        finally:
            _requester.reset(tokens[0])
            _client_host.reset(tokens[1])

    def _active(self, username: str) -> bool:
        if self._is_active is None:
            return True
        now = time.monotonic()
        cached = self._cache.get(username)
        if cached and now - cached[0] < self._cache_s:
            return cached[1]
        active = self._is_active(username)
        self._cache[username] = (now, active)
        return active


async def _refuse(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4401})
        return
    body = b'{"detail":"This account is disabled. Sign in again or contact an administrator."}'
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
