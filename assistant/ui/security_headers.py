"""Security headers on every HTTP response and an exact Origin check on websockets (pure ASGI).

Wraps Chainlit's FastAPI app (or any ASGI app) so it covers HTTP and websocket scopes alike:

- every HTTP response gets a Content-Security-Policy (`img-src 'self' data: blob:`, so no answer
  can load an outside image; `frame-ancestors 'none'`; `connect-src` limited to this app's own
  origins, ws/wss included), `X-Content-Type-Options`, `Referrer-Policy`, `X-Frame-Options`,
  `Permissions-Policy` and `Cross-Origin-Opener-Policy`;
- HTML pages are rewritten so the page loads nothing from outside the app (Chainlit's index links
  Google Fonts and a KaTeX stylesheet on a CDN: dropped, the UI falls back to system fonts), and
  each inline `<script>` that remains is allowed by its sha256 hash, never by `'unsafe-inline'`;
- a websocket handshake, and any Socket.IO request, whose `Origin` is not exactly one of the
  allowed origins is refused (cross-site websocket hijacking); browsers always send `Origin` on
  websockets, so a missing one means a non-browser client that holds its own credentials.

It never loosens what the wrapped app sets; it only adds headers the app did not set itself.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SOCKET_IO_PATH = "/ws/socket.io"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_EXTERNAL_LINK = re.compile(rb"<link\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*/?>\s*", re.IGNORECASE)
_PERMISSIONS = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
    "interest-cohort=(), browsing-topics=()"
)


def websocket_sources(origins: Iterable[str]) -> list[str]:
    """The ws:/wss: forms of the app's own origins (connect-src needs them spelled out)."""
    sources = []
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme in ("http", "https") and parts.netloc:
            sources.append(f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}")
    return sources


def build_csp(
    *,
    origins: Sequence[str],
    script_hashes: Sequence[str] = (),
    style_sources: Sequence[str] = (),
    font_sources: Sequence[str] = (),
) -> str:
    scripts = " ".join(["'self'", *(f"'sha256-{h}'" for h in script_hashes)])
    directives = {
        "default-src": "'self'",
        "script-src": scripts,
        # React sets style attributes and the UI kit injects <style>: without 'unsafe-inline' for
        # styles the chat does not render. Styles cannot run script or fetch outside img-src.
        "style-src": " ".join(["'self'", "'unsafe-inline'", *style_sources]),
        "img-src": "'self' data: blob:",
        "font-src": " ".join(["'self'", "data:", *font_sources]),
        "connect-src": " ".join(["'self'", *websocket_sources(origins)]),
        "media-src": "'self' blob:",
        "worker-src": "'self' blob:",
        "frame-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def rewrite_html(body: bytes) -> tuple[bytes, list[str]]:
    """Drop stylesheet/preconnect links to other hosts; return the page and its inline-script hashes."""
    body = _EXTERNAL_LINK.sub(b"", body)
    hashes = [
        base64.b64encode(hashlib.sha256(match.group(1)).digest()).decode()
        for match in _INLINE_SCRIPT.finditer(body)
    ]
    return body, hashes


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """Exact match only ("null" and look-alikes such as a longer host are refused)."""
    if origin is None:
        return True
    return origin.rstrip("/") in {o.rstrip("/") for o in allowed}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: Sequence[str],
        style_sources: Sequence[str] = (),
        font_sources: Sequence[str] = (),
        hsts: bool = False,
        socket_path: str = SOCKET_IO_PATH,
    ) -> None:
        self.app = app
        self.allowed_origins = list(allowed_origins)
        self.style_sources = list(style_sources)
        self.font_sources = list(font_sources)
        self.hsts = hsts
        self.socket_path = socket_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if not origin_allowed(_header(scope, b"origin"), self.allowed_origins):
                await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path", "").startswith(self.socket_path) and not origin_allowed(
            _header(scope, b"origin"), self.allowed_origins
        ):
            await self._refuse(send)
            return
        await self.app(scope, receive, _HeaderingSend(self, send))

    async def _refuse(self, send: Send) -> None:
        body = b"origin not allowed"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 403, "headers": headers + self.headers([])})
        await send({"type": "http.response.body", "body": body})

    def headers(self, script_hashes: Sequence[str]) -> list[tuple[bytes, bytes]]:
        csp = build_csp(
            origins=self.allowed_origins,
            script_hashes=script_hashes,
            style_sources=self.style_sources,
            font_sources=self.font_sources,
        )
        values = {
            "content-security-policy": csp,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "x-frame-options": "DENY",
            "permissions-policy": _PERMISSIONS,
            "cross-origin-opener-policy": "same-origin",
            "cross-origin-resource-policy": "same-origin",
        }
        if self.hsts:
            values["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        return [(k.encode(), v.encode()) for k, v in values.items()]


class _HeaderingSend:
    """Adds the headers to one response; buffers and rewrites it when it is an HTML page."""

    def __init__(self, middleware: SecurityHeadersMiddleware, send: Send) -> None:
        self._middleware = middleware
        self._send = send
        self._start: Message | None = None
        self._chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if _is_html(message):
                self._start = message  # held until the whole page is in
                return
            message["headers"] = _merged(message.get("headers", []), self._middleware.headers([]))
            await self._send(message)
            return
        if message["type"] == "http.response.body" and self._start is not None:
            self._chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_page()
            return
        await self._send(message)

    async def _send_page(self) -> None:
        assert self._start is not None
        headers = list(self._start.get("headers", []))
        body = b"".join(self._chunks)
        if any(k.lower() == b"content-encoding" and v.lower() == b"gzip" for k, v in headers):
            body = gzip.decompress(body)
            headers = [(k, v) for k, v in headers if k.lower() != b"content-encoding"]
        body, hashes = rewrite_html(body)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        self._start["headers"] = _merged(headers, self._middleware.headers(hashes))
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": body})


def _is_html(message: Message) -> bool:
    for key, value in message.get("headers", []):
        if key.lower() == b"content-type":
            return bool(value.lower().startswith(b"text/html"))
    return False


def _merged(
    existing: list[tuple[bytes, bytes]], ours: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    present = {key.lower() for key, _ in existing}
    return list(existing) + [(key, value) for key, value in ours if key not in present]


def install_security(app: Any, settings: Any, *, extra_origins: Sequence[str] = ()) -> None:
    """Add the middleware to a Starlette/FastAPI app (Chainlit's `chainlit.server.app`).

    Call before the server starts. `settings` is the root settings tree; the security section is
    optional (defaults apply until it is wired into the tree)."""
    from assistant.security.settings import SecuritySettings

    security: SecuritySettings = getattr(settings, "security", None) or SecuritySettings()
    origins = list(dict.fromkeys([*settings.server.allowed_origins, *extra_origins, *chainlit_origins()]))
    app.add_middleware(
        SecurityHeadersMiddleware,
        allowed_origins=origins,
        style_sources=security.headers.extra_style_sources,
        font_sources=security.headers.extra_font_sources,
        hsts=security.headers.strict_transport_security,
    )


def chainlit_origins() -> list[str]:
    """The exact origins `confidante serve` wrote into Chainlit's config (settings + its own
    host and port); a wildcard is never taken over."""
    try:
        from chainlit.config import config
    except Exception:  # Chainlit not importable here: the settings alone decide
        return []
    return [origin for origin in config.project.allow_origins if origin != "*"]


def secure_api(api: ASGIApp, settings: Any) -> ASGIApp:
    """The API's own app (served ahead of Chainlit's middleware, `assistant.api.routes.ApiFirst`)
    with what it had from Chainlit's stack: CORS exactly as Chainlit configures it (a browser app
    may call the API with a key), and the same security headers as every other response."""
    from starlette.middleware.cors import CORSMiddleware

    from assistant.security.settings import SecuritySettings

    try:
        from chainlit.config import config

        cors_origins = list(config.project.allow_origins)
    except Exception:  # Chainlit not importable here: the settings' origins alone
        cors_origins = list(settings.server.allowed_origins)
    security: SecuritySettings = getattr(settings, "security", None) or SecuritySettings()
    origins = list(dict.fromkeys([*settings.server.allowed_origins, *chainlit_origins()]))
    with_cors = CORSMiddleware(
        api, allow_origins=cors_origins, allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
    )
    return SecurityHeadersMiddleware(
        with_cors,
        allowed_origins=origins,
        style_sources=security.headers.extra_style_sources,
        font_sources=security.headers.extra_font_sources,
        hsts=security.headers.strict_transport_security,
    )
