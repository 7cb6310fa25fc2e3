"""The Confidante web app started for real (`python -m assistant.cli serve`) for browser tests.

One process per test session, on a free loopback port, with its own data directory, in its own
process group so that stopping it also stops anything Chainlit started. It never binds anything
but 127.0.0.1, and never talks to the network: the settings come from the environment given here.
Accounts are created through the real CLI (`confidante users add`) once the app asks for sign-in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 180.0  # a cold start imports Presidio, spaCy and llama.cpp on a busy 2-core machine


class AppServer:
    """`confidante serve` on 127.0.0.1:<free port> with `data_dir` as CONFIDANTE_DATA_DIR."""

    def __init__(self, data_dir: Path, log_path: Path, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.extra_env = env or {}
        self._process: subprocess.Popen[bytes] | None = None
        self.accounts_ready = False  # set by the suite once its sign-in accounts exist

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {**os.environ, "CONFIDANTE_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"}
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        command = [
            sys.executable,
            "-m",
            "assistant.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends all of it
            )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        # Uvicorn answers HTTP only after Chainlit's startup hook (services built, model warm).
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"confidante serve exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/auth/config", timeout=2.0).status_code == 200:
                    return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"confidante serve was not ready in {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def auth_config(self) -> dict[str, Any]:
        """What the login page is built from: `passwordAuth`, `requireLogin`, `oauthProviders`."""
        response = httpx.get(f"{self.base_url}/auth/config", timeout=5.0)
        response.raise_for_status()
        return dict(response.json())

    @property
    def requires_sign_in(self) -> bool:
        return bool(self.auth_config().get("passwordAuth"))

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `confidante ARGS` against this server's data directory (same settings, same DB)."""
        return subprocess.run(
            [sys.executable, "-m", "assistant.cli", *args],
            cwd=REPO,
            env=self.environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def add_user(self, username: str, password: str, *, admin: bool = False) -> None:
        """A password account, created through the real admin CLI (password on stdin, never argv)."""
        flags = ["--admin"] if admin else []
        self.cli("users", "add", username, *flags, "--password-stdin", stdin=password + "\n")
