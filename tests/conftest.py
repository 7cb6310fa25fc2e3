"""Suite-wide fixtures. The first one matters most: no test may reach a non-loopback address."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# Loopback servers (llama_cpp.server + fault-injecting, recording proxy) and a throwaway PostgreSQL.
pytest_plugins = ["tests.support.fixtures", "tests.postgres"]

# Offline switches for libraries that would otherwise try to phone home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Tests never inherit a developer's hosted endpoint or config file.
for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
    os.environ.pop(_var, None)
os.environ["CONFIDANTE_CONFIG"] = "/nonexistent/confidante.toml"
# The suite runs the small local model (SmolLM2-135M, installed by `make install-dev`); set before
# any settings are built, and inherited by every app or server the tests start.
os.environ["CONFIDANTE_MODELS__LOCAL__PROFILE"] = "small"

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


class NetworkGuardError(RuntimeError):
    pass


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like never leave the machine
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already be a leak


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkGuardError(f"test tried to connect to non-loopback address {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkGuardError(f"test tried to connect to non-loopback address {address!r}")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """Fail any connection to a non-loopback address, for the whole suite."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def shared_eval() -> Path:
    path = SHARED / "eval"
    if not path.is_dir():
        pytest.skip(f"shared evaluation data not found at {path}")
    return path


@pytest.fixture(scope="session")
def gate_privacy():  # type: ignore[no-untyped-def]
    """The real sensitivity gate (Presidio + spaCy + our rules), loaded once per session."""
    from assistant.privacy_gate import build_gate_privacy
    from assistant.settings import Settings

    privacy = build_gate_privacy(Settings())
    yield privacy
    privacy.gate.close()
