"""`confidante chat` ends without CPython's last walk of its heap, and loses nothing by it.

A real subprocess with the suite's small model: the command freezes the heap at exit (so the
interpreter's final garbage collections, seconds on a loaded machine, have nothing to walk), and
the turn's audit record and usage charge are in the database after the process is gone. How long
the exit takes is measured by bench/bench_cli_exit.py, not here.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

# Registered before the command runs, so it runs after the command's own exit handlers.
SCRIPT = """
import atexit, gc, sys
atexit.register(lambda: print(f"frozen at exit: {gc.get_freeze_count() > 0}", file=sys.stderr))
from assistant.cli import run
sys.argv = ["confidante", *sys.argv[1:]]
run()
"""


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONFIDANTE_"))}
    return env | {
        "CONFIDANTE_DATA_DIR": str(data_dir),
        "CONFIDANTE_CONFIG": str(data_dir / "absent.toml"),
        "CONFIDANTE_MODELS__LOCAL__MAX_TOKENS": "16",
        "CONFIDANTE_MODELS__LOCAL__PROFILE": "small",
    }


@pytest.mark.slow
def test_chat_exits_without_the_final_heap_walk_and_keeps_its_records(data_dir: Path) -> None:
    command = [sys.executable, "-c", SCRIPT, "chat", "Name three colours."]
    proc = subprocess.run(command, capture_output=True, text=True, env=_env(data_dir), timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()  # the answer
    assert "frozen at exit: True" in proc.stderr
    with sqlite3.connect(data_dir / "confidante.db") as db:
        calls = db.execute("SELECT count(*) FROM audit_records WHERE kind = 'model_call'").fetchone()[0]
        tokens = db.execute("SELECT coalesce(sum(tokens), 0) FROM daily_usage").fetchone()[0]
    assert calls >= 1 and tokens > 0
    verify = [sys.executable, "-m", "assistant.cli", "audit", "verify"]
    checked = subprocess.run(verify, capture_output=True, text=True, env=_env(data_dir), timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
