"""100 users opening the app at the same second, naming the chat profile as the frontend does.

Before `assistant/ui/profile_config.py`, Chainlit's nested `run_until_complete` for a named profile
recursed under a burst: about half of 50 websockets were refused and the log filled with
`RecursionError`. This drives the real server over Socket.IO (the frontend's protocol).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.ui.profile_config import config_for
from tests.browser.app_server import AppServer
from tests.support.chat_socket import CHAT_PROFILE, ChatSocket, sign_in

BURST = 100
PASSWORD = "burst-test-pass-1"


class _Config:
    def with_overrides(self, overrides: object) -> tuple[str, object]:
        return ("overridden", overrides)


def test_a_profile_without_overrides_gets_the_global_config() -> None:
    config = _Config()
    plain = SimpleNamespace(name="Confidante", config_overrides=None)
    assert config_for("Confidante", [plain], config) is config
    assert config_for(None, [plain], config) is config
    assert config_for("Unknown", [plain], config) is config


def test_a_profile_with_overrides_still_gets_them() -> None:
    special = SimpleNamespace(name="Special", config_overrides={"ui": {"name": "x"}})
    assert config_for("Special", [special], _Config()) == ("overridden", {"ui": {"name": "x"}})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root = tmp_path_factory.mktemp("burst")
    app = AppServer(root / "data", root / "serve.log")
    app.start()
    try:
        app.cli("users", "add", "burst", "--password-stdin", stdin=PASSWORD + "\n")
        yield app
    finally:
        app.stop()


async def _burst(server: AppServer, token: str) -> list[BaseException]:
    sockets = [ChatSocket(server.base_url, token, chat_profile=CHAT_PROFILE) for _ in range(BURST)]
    results = await asyncio.gather(*(s.connect() for s in sockets), return_exceptions=True)
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


@pytest.mark.slow
def test_a_burst_of_connections_naming_the_profile_all_succeed(server: AppServer) -> None:
    token = asyncio.run(sign_in(server.base_url, "burst", PASSWORD))
    errors = asyncio.run(_burst(server, token))
    assert errors == []
    assert "RecursionError" not in Path(server.log_path).read_text(errors="replace")
