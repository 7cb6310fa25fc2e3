"""`confidante chat` end to end: real llama.cpp, real settings, a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "assistant.cli"]


def run_cli(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONFIDANTE_"))}
    full_env.update(
        {
            "CONFIDANTE_DATA_DIR": str(data_dir),
            "CONFIDANTE_MODELS__LOCAL__MAX_TOKENS": "24",
            "CONFIDANTE_MODELS__LOCAL__PROFILE": "small",  # the suite's model (see conftest)
        },
        **env,
    )
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, timeout=240)


@pytest.mark.slow
def test_chat_json_answers_locally(data_dir: Path) -> None:
    proc = run_cli(["chat", "Say hello", "--json"], data_dir)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["route"] == "local"
    assert out["answer"].strip()
    assert out["model"] == "SmolLM2-135M-Instruct"
    assert out["usage"]["completion_tokens"] > 0
    assert out["latency_ms"] > 0 and out["ttft_ms"] is not None
    assert {"tier", "entities", "pseudonymized"} <= out.keys()


def test_invalid_setting_stops_with_one_line(data_dir: Path) -> None:
    proc = run_cli(["chat", "hi"], data_dir, CONFIDANTE_MODELS__LOCAL__QUEUE_SIZE="-1")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "models.local.queue_size" in proc.stderr and "Traceback" not in proc.stderr


def test_model_with_wrong_hash_is_refused(data_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "other.gguf"
    fake.write_bytes(b"GGUF not really a model")
    proc = run_cli(["check"], data_dir, CONFIDANTE_MODELS__LOCAL__PATH=str(fake))
    assert proc.returncode == 2
    assert "does not match its pinned sha256" in proc.stderr and "Traceback" not in proc.stderr


def test_unpinned_model_needs_explicit_permission(data_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "other.gguf"
    fake.write_bytes(b"GGUF")
    refused = run_cli(
        ["check"], data_dir, CONFIDANTE_MODELS__LOCAL__PATH=str(fake), CONFIDANTE_MODELS__LOCAL__SHA256=""
    )
    assert refused.returncode == 2 and "no pinned sha256" in refused.stderr
    allowed = run_cli(
        ["check"],
        data_dir,
        CONFIDANTE_MODELS__LOCAL__PATH=str(fake),
        CONFIDANTE_MODELS__LOCAL__SHA256="",
        CONFIDANTE_MODELS__LOCAL__ALLOW_UNPINNED="true",
    )
    assert allowed.returncode == 0, allowed.stderr
