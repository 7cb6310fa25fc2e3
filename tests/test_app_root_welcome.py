"""The app root holds the welcome for Chainlit's default language, so no page load logs
"Translated markdown file for en-US not found" (seen on every page of a fresh install)."""

import logging
from pathlib import Path

import pytest
from chainlit.markdown import get_markdown_str

from assistant.settings import Settings
from assistant.ui.webapp import WELCOME, prepare_app_root


def test_the_english_welcome_is_found_without_a_fallback_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = prepare_app_root(Settings(data_dir=tmp_path), host="127.0.0.1", port=8000)
    with caplog.at_level(logging.WARNING):
        shown = get_markdown_str(str(root), "en-US")
    assert shown == WELCOME
    assert not [r for r in caplog.records if "not found" in r.getMessage()]
