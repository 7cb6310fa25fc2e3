"""`confidante check` verifies the gate's Rampart classifier files against their pins (issue 12):
a wrong digest stops it with the file named, before anything is served."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.files import ModelFileError
from routing.settings import RoutingSettings
from routing.token_ner import verify_model_files

CLI = [sys.executable, "-m", "assistant.cli"]


def _check(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONFIDANTE_"))}
    full_env.update(CONFIDANTE_DATA_DIR=str(data_dir), CONFIDANTE_MODELS__LOCAL__PROFILE="small", **env)
    return subprocess.run([*CLI, "check"], capture_output=True, text=True, env=full_env, timeout=240)


def test_installed_files_match_their_pins() -> None:
    onnx, tokenizer = verify_model_files(RoutingSettings())
    assert onnx.name == "model_q4.onnx" and tokenizer.name == "tokenizer.json"


def test_wrong_pin_is_refused() -> None:
    with pytest.raises(ModelFileError, match="does not match its pinned sha256"):
        verify_model_files(RoutingSettings(token_ner_onnx_sha256="0" * 64))


def test_check_reports_the_classifier(tmp_path: Path) -> None:
    proc = _check(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "name/address classifier: Rampart (model_q4.onnx, sha256 verified)" in proc.stdout


def test_check_stops_on_a_wrong_digest(tmp_path: Path) -> None:
    proc = _check(tmp_path, CONFIDANTE_ROUTING__TOKEN_NER_ONNX_SHA256="0" * 64)
    assert proc.returncode == 2
    assert "model_q4.onnx does not match its pinned sha256" in proc.stderr and "Traceback" not in proc.stderr
