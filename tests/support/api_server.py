"""`confidante serve` with its hosted endpoint behind a recording FaultProxy in "echo" mode, for the
API's tests: one place for the set-up that test_api, test_api_limits, test_api_edges and
test_api_canaries share (each still starts its own server, module-scoped).

The proxy hands each request's last user message back as the hosted answer and records every body
that left, so a test can assert both what came back and what reached the hosted endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.browser.app_server import AppServer
from tests.support.proxy import FaultProxy
from tests.support.servers import free_port


@contextmanager
def echo_api_server(root: Path, env: dict[str, str] | None = None) -> Iterator[tuple[AppServer, FaultProxy]]:
    """The running server (with a user "svc" to own keys) and its recording proxy."""
    proxy = FaultProxy(upstream_port=free_port()).start()
    proxy.set_fault("echo", times=None)
    settings = {"OPENAI_BASE_URL": proxy.base_url, "OPENAI_API_KEY": "upstream-key", **(env or {})}
    server = AppServer(root / "data", root / "serve.log", env=settings)
    server.start()
    try:
        server.cli("users", "add", "svc", "--no-password")
        yield server, proxy
    finally:
        server.stop()
        proxy.stop()
