"""Log scrubbing: API keys and personal data never reach a log line, with the regex path alone
and with the real sensitivity gate (Presidio) finding names."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from assistant.security.log_scrub import ScrubbingFilter, gate_finder, install_log_scrubbing, scrub_text
from assistant.settings import load_settings

KEY = "sk-proj-Abc123Def456Ghi789Jkl012"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.scrub")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, stream, handler
    finally:
        logger.removeHandler(handler)


def test_ssn_and_api_key_are_scrubbed(captured):
    logger, stream, handler = captured
    handler.addFilter(ScrubbingFilter(secrets=["configured-key-value-42"]))
    logger.info("user SSN %s called with key %s", "078-05-1120", KEY)
    logger.info(
        "headers: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig, api_key=configured-key-value-42"
    )
    out = stream.getvalue()
    assert "078-05-1120" not in out and KEY not in out
    assert "eyJhbGciOiJIUzI1NiJ9" not in out and "configured-key-value-42" not in out
    assert "<US_SSN>" in out and "<API_KEY>" in out


def test_exceptions_are_scrubbed_too(captured):
    logger, stream, handler = captured
    handler.addFilter(ScrubbingFilter())
    try:
        raise ValueError("card 4111 1111 1111 1111 for jane.doe@corp.example")
    except ValueError:
        logger.exception("failed")
    out = stream.getvalue()
    assert "4111" not in out and "jane.doe@corp.example" not in out and "Traceback" in out


def test_plain_lines_pass_unchanged():
    line = "turn finished in 812 ms, 42 tokens, model smollm2 (local), policy v3"
    assert scrub_text(line) == line


def test_install_uses_the_configured_openai_key(monkeypatch, data_dir, captured):
    monkeypatch.setenv("OPENAI_API_KEY", "not-an-sk-shaped-secret-123")
    settings = load_settings(data_dir=data_dir)
    _, stream, handler = captured
    root = logging.getLogger()
    root.addHandler(handler)
    own = logging.getLogger("test.own_handler")  # like uvicorn's loggers: handlers of their own
    own_stream = io.StringIO()
    own_handler = logging.StreamHandler(own_stream)
    own.addHandler(own_handler)
    own.propagate = False
    try:
        scrubber = install_log_scrubbing(settings)
        logging.getLogger("test.other").warning("retrying with not-an-sk-shaped-secret-123")
        own.warning("key not-an-sk-shaped-secret-123 for SSN 078-05-1120")
    finally:
        root.removeHandler(handler)
        own.removeHandler(own_handler)
        for each in (handler, own_handler):
            each.removeFilter(scrubber)
    assert "not-an-sk-shaped-secret-123" not in stream.getvalue()
    assert "retrying with <API_KEY>" in stream.getvalue()
    assert own_stream.getvalue().strip() == "key <API_KEY> for SSN <US_SSN>"


class _BrokenGate:
    def find_pii(self, text: str, *, source: str) -> list[object]:
        raise RuntimeError(f"analyzer crashed on {text}")


def test_a_failing_gate_falls_back_to_regex_scrubbing(captured):
    logger, stream, handler = captured
    handler.addFilter(ScrubbingFilter(finder=gate_finder(_BrokenGate())))
    logger.info("SSN 078-05-1120")
    assert stream.getvalue().strip() == "INFO SSN <US_SSN>"


def test_names_are_scrubbed_with_the_real_gate(captured):
    from routing.gate import build_gate

    gate = build_gate(load_settings().routing)
    try:
        logger, stream, handler = captured
        handler.addFilter(ScrubbingFilter(finder=gate_finder(gate)))
        logger.info("escalation opened for Maria Gonzalez about SSN 078-05-1120")
    finally:
        gate.close()
    out = stream.getvalue()
    assert "Maria Gonzalez" not in out and "078-05-1120" not in out
