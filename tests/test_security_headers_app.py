"""The security middleware on the real Confidante app (Chainlit, Presidio, llama.cpp) on loopback:
headers on the page, a static asset and the Socket.IO endpoint; a foreign Origin refused on
Socket.IO polling and on the websocket; and, in a real Chromium, the Content-Security-Policy does
not break the UI (the page renders, a user signs in and gets an answer, no CSP violation).

`confidante serve` is used once the app calls `install_security`; until then the same app is
served by `chainlit run` on a wrapper that imports `app.py` and installs the middleware itself,
so the middleware is checked against Chainlit's real frontend either way.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.browser.app_server import REPO, AppServer

WRAPPER = """
from app import *  # noqa: F403 - registers Confidante's Chainlit callbacks
from chainlit.server import app as _server
from assistant.ui.security_headers import install_security
from assistant.settings import load_settings
install_security(_server, load_settings())
"""
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class _WrappedAppServer(AppServer):
    """Chainlit on a wrapper module that installs the middleware (until app.py does it)."""

    def start(self, timeout_s: float = 180.0) -> None:
        from assistant.settings import load_settings
        from assistant.ui.webapp import chainlit_environment

        os.environ["CONFIDANTE_DATA_DIR"] = str(self.data_dir)
        try:
            env = chainlit_environment(load_settings(), host="127.0.0.1", port=self.port)
        finally:
            os.environ.pop("CONFIDANTE_DATA_DIR", None)
        root = Path(env["CHAINLIT_APP_ROOT"])
        (root / "secured_app.py").write_text(WRAPPER)
        command = [sys.executable, "-m", "chainlit", "run", "secured_app.py", "--host", "127.0.0.1",
                   "--port", str(self.port), "--headless"]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready(timeout_s)


def _app_installs_security() -> bool:
    wired = ("app.py", "assistant/ui/chat_app.py", "assistant/ui/webapp.py")
    return any("install_security" in (REPO / name).read_text() for name in wired if (REPO / name).exists())


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    base = tmp_path_factory.mktemp("secured-app")
    data = base / "data"
    data.mkdir()
    kind = AppServer if _app_installs_security() else _WrappedAppServer
    server = kind(data, base / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _asset_path(html: str) -> str:
    start = html.index('src="/assets/') + len('src="')
    return html[start : html.index('"', start)]


def test_page_asset_and_socketio_carry_the_headers(app_server):
    page = httpx.get(app_server.base_url + "/", headers={"accept-encoding": "gzip"})
    assert page.status_code == 200
    asset = httpx.get(app_server.base_url + _asset_path(page.text))
    socket = httpx.get(
        app_server.base_url + "/ws/socket.io/?EIO=4&transport=polling",
        headers={"origin": app_server.base_url},
    )
    for response in (page, asset, socket):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "img-src 'self' data: blob:" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
    assert "fonts.googleapis.com" not in page.text and "cdn.jsdelivr.net" not in page.text
    assert "'sha256-" in page.headers["content-security-policy"]
    assert (
        "'unsafe-inline'" not in page.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    )


def test_socketio_refuses_a_foreign_origin(app_server):
    polling = app_server.base_url + "/ws/socket.io/?EIO=4&transport=polling"
    assert httpx.get(polling, headers={"origin": "https://evil.example"}).status_code == 403
    url = app_server.base_url.replace("http://", "ws://") + "/ws/socket.io/?EIO=4&transport=websocket"

    async def attempt() -> None:
        async with websockets.connect(url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt())
    assert refused.value.response.status_code == 403


def test_csp_does_not_break_the_chat_ui(app_server, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.browser.chat_page import ChatPage

    app_server.add_user("csp-tester", "a long test password 1")
    violations: list[str] = []
    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_FLAGS)
        try:
            page = browser.new_page()
            page.add_init_script(
                "document.addEventListener('securitypolicyviolation', e => "
                "console.error('CSP-VIOLATION ' + e.violatedDirective + ' ' + e.blockedURI));"
            )
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            chat = ChatPage(page, app_server.base_url)
            chat.open()
            if chat.on_login_page():
                chat.sign_in("csp-tester", "a long test password 1")
            chat.wait_until_connected()  # before the session is live, Enter is ignored
            chat.send("Say hello in five words.")
            answer = chat.wait_for_answer()
            assert answer.inner_text().strip()
            violations = [
                line for line in console if "CSP-VIOLATION" in line or "Content Security Policy" in line
            ]
            # Control: the policy is enforced and violations are seen (CSP blocks before any fetch).
            blocked = page.evaluate(
                "() => new Promise(done => {"
                " document.addEventListener('securitypolicyviolation', e => done(e.violatedDirective),"
                " {once: true}); const image = new Image(); image.src = 'https://evil.example/x.png'; })"
            )
            assert blocked == "img-src"
        finally:
            browser.close()
    assert violations == [], "\n".join(violations)
