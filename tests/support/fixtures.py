"""Pytest fixtures for the loopback servers: register with `pytest_plugins = ["tests.support.fixtures"]`.

- `llama_server` (session): a real `llama_cpp.server` serving the bundled SmolLM2 GGUF.
- `hosted_proxy` (function): a fresh `FaultProxy` in front of it, stopped after the test.
- `hosted_settings` (function): `HostedModelSettings` pointing at the proxy, with short timeouts.
- `local_llama_model` (session): the bundled SmolLM2 as a `LocalModel`, loaded once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from models.local import LocalModel
from models.settings import HostedModelSettings, LocalModelSettings
from tests.support.proxy import FaultProxy
from tests.support.servers import SERVER_MODEL_ALIAS, LlamaServer, bundled_gguf


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    server = LlamaServer(bundled_gguf(), log_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hosted_proxy(llama_server: LlamaServer) -> Iterator[FaultProxy]:
    if not llama_server.running:  # a previous test stopped it without restarting
        llama_server.start()
    proxy = FaultProxy(llama_server.port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def hosted_settings(hosted_proxy: FaultProxy) -> HostedModelSettings:
    """The "hosted" endpoint of a test: the proxy, a dummy key, timeouts short enough for tests."""
    return HostedModelSettings(
        api_key="test-key",  # type: ignore[arg-type]
        base_url=hosted_proxy.base_url,
        models={"strong": SERVER_MODEL_ALIAS, "cheap": SERVER_MODEL_ALIAS},  # type: ignore[arg-type]
        connect_timeout_s=2.0,
        first_token_timeout_s=3.0,
        total_timeout_s=10.0,
        max_tokens=16,
        temperature=0.0,
    )


@pytest.fixture(scope="session")
def local_llama_model() -> Iterator[LocalModel]:
    """The bundled SmolLM2 in process (one worker thread, one core), loaded once per session."""
    model = LocalModel(
        bundled_gguf(),
        LocalModelSettings(context_window=1024, threads=1, queue_size=4, temperature=0.0),
    )
    model.wait_ready()
    try:
        yield model
    finally:
        model.close()
