"""llama.cpp's own `llama-server` on loopback, with parallel slots: the private server of tests and
benches (llama-cpp-python's server generates one answer at a time).

`make llama-server` builds it once per machine from the same hash-pinned llama.cpp source as
llama-cpp-python, into `~/.cache/confidante/bin/` (`CONFIDANTE_LLAMA_SERVER` names another).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import httpx

from tests.support.servers import SERVER_MODEL_ALIAS, LlamaServer


def llama_server_binary() -> Path:
    """Where `make llama-server` put it, named for the llama.cpp it came from."""
    import llama_cpp

    default = Path.home() / ".cache" / "confidante" / "bin" / f"llama-server-{llama_cpp.__version__}"
    return Path(os.environ.get("CONFIDANTE_LLAMA_SERVER", default))


class ParallelLlamaServer(LlamaServer):
    """`llama-server --parallel N` serving a GGUF; `n_ctx` is per slot.

    `ignore_eos`: every answer runs to its token limit whatever the model would write, so a
    test can assert on who generated when, never on the words.
    """

    def __init__(
        self,
        model_path: Path,
        log_path: Path,
        *,
        slots: int,
        alias: str = SERVER_MODEL_ALIAS,
        n_ctx: int = 1024,
        ignore_eos: bool = False,
    ) -> None:
        super().__init__(model_path, log_path, alias=alias, n_ctx=n_ctx, threads=1)
        self.slots = slots
        self.ignore_eos = ignore_eos

    def command(self) -> list[str]:
        return [
            str(llama_server_binary()),
            "--model", str(self.model_path),
            "--alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--parallel", str(self.slots),
            "--ctx-size", str(self.n_ctx * self.slots),
            "--threads", str(self.threads),
            "--threads-batch", str(self.threads),
            "--no-webui",
            *(["--ignore-eos"] if self.ignore_eos else []),
        ]  # fmt: skip

    def _wait_ready(self, timeout_s: float) -> None:
        """Ready means `/health` says ok: llama-server answers HTTP while the model still loads
        (503 there), and a request sent in that window can be dropped without a response."""
        deadline = time.monotonic() + timeout_s
        health = self.base_url.removesuffix("/v1") + "/health"
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"llama-server exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama-server was not ready in {timeout_s:.0f}s:\n{self.log_tail()}")
