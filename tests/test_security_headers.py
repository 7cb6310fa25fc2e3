"""The security middleware on a real uvicorn server on loopback: headers on every response, HTML
rewritten to load nothing from outside with inline scripts allowed by hash, and websocket /
Socket.IO requests from a foreign Origin refused."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from websockets.exceptions import InvalidStatus

from assistant.ui.security_headers import SecurityHeadersMiddleware, build_csp, origin_allowed, rewrite_html
from tests.support.servers import free_port

INDEX = (
    """<!doctype html><html><head>
<link rel="preconnect" href="https://fonts.googleapis.com" />
<link href="https://fonts.googleapis.com/css2?family=Inter" rel="stylesheet" />
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/katex@0.16.22/dist/katex.min.css" />
<link rel="stylesheet" href="/public/own.css">
<script>
      const global = globalThis;
    </script>
<script type="module" crossorigin src="/assets/index.js"></script>
</head><body><div id="root"></div>"""
    + "<p>padding</p>" * 200
    + "</body></html>"
)


async def _index(request):
    return HTMLResponse(INDEX)


async def _json(request):
    return JSONResponse({"ok": True})


async def _socketio(request):
    return PlainTextResponse("0{}")


async def _ws(websocket):
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


ORIGIN = "http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    app = Starlette(
        routes=[
            Route("/", _index),
            Route("/api", _json),
            Route("/ws/socket.io/", _socketio),
            WebSocketRoute("/ws/socket.io/", _ws),
        ]
    )
    app.add_middleware(GZipMiddleware, minimum_size=100)  # Chainlit compresses pages too
    app.add_middleware(SecurityHeadersMiddleware, allowed_origins=[ORIGIN.format(port=port)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def _csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in policy.split("; ")}


@pytest.mark.parametrize("path", ["/", "/api", "/missing"])
def test_every_response_has_the_headers(server, path):
    response = httpx.get(server + path, headers={"accept-encoding": "gzip"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    csp = _csp(response)
    assert csp["img-src"] == "'self' data: blob:"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    port = server.rsplit(":", 1)[1]
    assert csp["connect-src"] == f"'self' ws://127.0.0.1:{port}"


def test_html_page_loads_nothing_external_and_inline_script_is_hashed(server):
    response = httpx.get(server + "/", headers={"accept-encoding": "gzip"})
    body = response.text
    assert "fonts.googleapis.com" not in body and "cdn.jsdelivr.net" not in body
    assert '<link rel="stylesheet" href="/public/own.css">' in body
    assert '<script type="module" crossorigin src="/assets/index.js"></script>' in body
    assert int(response.headers["content-length"]) == len(response.content)
    inline = "\n      const global = globalThis;\n    "
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in _csp(response)["script-src"]


def test_gzip_pages_are_rewritten_too():
    page = gzip.compress(INDEX.encode())
    body, hashes = rewrite_html(gzip.decompress(page))
    assert b"googleapis" not in body and len(hashes) == 1


def test_socketio_polling_with_foreign_origin_is_refused(server):
    port = server.rsplit(":", 1)[1]
    bad = httpx.get(
        server + "/ws/socket.io/?EIO=4&transport=polling", headers={"origin": "https://evil.example"}
    )
    assert bad.status_code == 403
    assert bad.headers["x-content-type-options"] == "nosniff"
    good = httpx.get(
        server + "/ws/socket.io/?EIO=4&transport=polling", headers={"origin": f"http://127.0.0.1:{port}"}
    )
    assert good.status_code == 200
    # A look-alike (longer host, other port, "null") is not the same origin.
    for origin in (f"http://127.0.0.1:{port}.evil.example", "http://127.0.0.1:1", "null"):
        assert httpx.get(server + "/ws/socket.io/", headers={"origin": origin}).status_code == 403


def test_websocket_with_foreign_origin_is_refused(server):
    url = server.replace("http://", "ws://") + "/ws/socket.io/"

    async def attempt(origin: str) -> str:
        async with websockets.connect(url, origin=origin) as ws:  # type: ignore[arg-type]
            return str(await ws.recv())

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt("https://evil.example"))
    assert refused.value.response.status_code == 403
    assert asyncio.run(attempt(server)) == "hello"


def test_origin_check_is_exact():
    allowed = ["http://localhost:8000"]
    assert origin_allowed("http://localhost:8000", allowed)
    assert origin_allowed(None, allowed)  # not a browser: no cross-site hijacking possible
    assert not origin_allowed("http://localhost:8000.evil.com", allowed)
    assert not origin_allowed("https://localhost:8000", allowed)
    assert not origin_allowed("null", allowed)


def test_csp_spells_out_websocket_sources():
    csp = build_csp(origins=["https://chat.example.com", "http://localhost:8000"])
    assert "connect-src 'self' wss://chat.example.com ws://localhost:8000" in csp
