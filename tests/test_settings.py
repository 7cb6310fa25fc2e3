"""The settings tree: environment, TOML file, SDK variables, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import CHAINLIT_CI_FAKE_KEY, SettingsError, load_settings


def test_defaults_keep_everything_local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONFIDANTE_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.data_dir == tmp_path.resolve()
    assert settings.models.hosted.configured is False
    assert settings.db_path.parent == tmp_path.resolve()
    assert settings.server.require_login is True


def test_openai_sdk_variables_configure_the_hosted_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    settings = load_settings()
    assert settings.models.hosted.configured
    assert settings.models.hosted.base_url == "http://127.0.0.1:9999/v1"
    assert settings.models.hosted.api_key is not None
    assert "sk-test-123" not in repr(settings)  # secrets never appear in a repr or a log line


def test_chainlits_ci_mode_key_is_not_a_hosted_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`chainlit run` with CI=true writes a fake OPENAI_API_KEY into the server's environment: it
    must neither configure the hosted route nor reach the server (fresh-clone CI saw both)."""
    from assistant.ui.webapp import chainlit_environment

    monkeypatch.setenv("CONFIDANTE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OPENAI_API_KEY", CHAINLIT_CI_FAKE_KEY)
    assert load_settings().models.hosted.configured is False
    monkeypatch.setenv("CI", "true")
    assert "CI" not in chainlit_environment(load_settings(), host="127.0.0.1", port=8000)


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIDANTE_MODELS__LOCAL__QUEUE_SIZE", "7")
    monkeypatch.setenv("CONFIDANTE_MODELS__HOSTED__TOTAL_TIMEOUT_S", "12.5")
    settings = load_settings()
    assert settings.models.local.queue_size == 7
    assert settings.models.hosted.total_timeout_s == 12.5


def test_invalid_setting_is_one_line_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIDANTE_SERVER__PORT", "not-a-port")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert "server.port" in message and "CONFIDANTE_SERVER__PORT" in message


def test_toml_file_is_read_and_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "confidante.toml"
    config.write_text("[models.local]\nqueue_size = 3\n[chat]\nmax_history_turns = 2\n")
    monkeypatch.setenv("CONFIDANTE_CONFIG", str(config))
    settings = load_settings()
    assert settings.models.local.queue_size == 3
    assert settings.chat.max_history_turns == 2
    config.write_text("[models.local]\nqueue_size = 0\n")
    with pytest.raises(SettingsError, match=r"models\.local\.queue_size"):
        load_settings()


def test_malformed_toml_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "confidante.toml"
    config.write_text("[models.local\nqueue_size = ")
    monkeypatch.setenv("CONFIDANTE_CONFIG", str(config))
    with pytest.raises(SettingsError, match="could not be read"):
        load_settings()


def test_unknown_keys_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "confidante.toml"
    config.write_text("[models.local]\nqeue_size = 3\n")
    monkeypatch.setenv("CONFIDANTE_CONFIG", str(config))
    with pytest.raises(SettingsError, match="qeue_size"):
        load_settings()
