"""A real OpenAI-compatible server on loopback: `python -m llama_cpp.server` serving a GGUF.

It stands in for the hosted API in integration tests. It binds 127.0.0.1 only, is started once
per test session (small context, one or two threads: the machine has two cores shared by
everyone), waits for readiness by polling `/v1/models`, keeps its log in a file, and can be
stopped and restarted to play "the hosted model is down".
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from models.files import locate_package_file
from models.settings import DEFAULT_GGUF_FILE, DEFAULT_GGUF_PACKAGE

SERVER_MODEL_ALIAS = "test-hosted"
READY_TIMEOUT_S = 90.0


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bundled_gguf() -> Path:
    return locate_package_file(DEFAULT_GGUF_PACKAGE, DEFAULT_GGUF_FILE)


class LlamaServer:
    """One `llama_cpp.server` subprocess on a loopback port, with its log captured."""

    def __init__(
        self,
        model_path: Path,
        log_path: Path,
        *,
        alias: str = SERVER_MODEL_ALIAS,
        n_ctx: int = 1024,
        threads: int = 1,
    ) -> None:
        self.model_path = model_path
        self.log_path = log_path
        self.alias = alias
        self.n_ctx = n_ctx
        self.threads = threads
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (with `/v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.threads),
            "--n_threads_batch", str(self.threads),
            "--verbose", "False",
        ]  # fmt: skip

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        if self.running:
            return
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start: {' '.join(self.command())}\n".encode())
            log.flush()
            self._process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"llama_cpp.server exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server was not ready in {timeout_s:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The upstream is down for the duration of the block, then back (same port)."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
