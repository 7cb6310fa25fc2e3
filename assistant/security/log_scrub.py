"""A logging filter that keeps secrets and personal data out of every log record.

Always: API keys (`sk-…`, `Bearer …`, the configured `OPENAI_API_KEY` value, `api_key=…`) and
identifier-shaped values (SSNs, card and account numbers, e-mail addresses, phone numbers) are
replaced by a label; this path is regex-only and cheap. Optionally, the sensitivity gate's own
detector (`SensitivityGate.find_pii`) scrubs names and the rest of what it finds; if the gate
fails, the record is reduced to its regex-scrubbed form, never logged raw. The filter never
drops a record and never raises into the code that logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# A function that returns (start, end, label) spans to replace, e.g. built on the gate.
SpanFinder = Callable[[str], Sequence[tuple[int, int, str]]]

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("API_KEY", re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}")),
    ("API_KEY", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")),
    ("API_KEY", re.compile(r"(?i)\b(api[_-]?key|token|secret|password)(\s*[=:]\s*)['\"]?[^\s'\",;]{6,}")),
    ("EMAIL_ADDRESS", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("US_SSN", re.compile(r"\b\d{3}[- ]\d{2}[- ]\d{4}\b")),
    ("CREDIT_CARD", re.compile(r"\b(?:\d[ -]?){13,19}\b")),
    ("IBAN_CODE", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}\b")),
    ("PHONE_NUMBER", re.compile(r"(?<!\w)\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]\d{3,4}[ .-]\d{3,4}\b")),
)


def scrub_text(text: str, *, secrets: Iterable[str] = (), finder: SpanFinder | None = None) -> str:
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "<API_KEY>")
    for label, pattern in _PATTERNS:
        if label == "API_KEY" and pattern.groups >= 2:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}<API_KEY>", text)
        else:
            text = pattern.sub(f"<{label}>", text)
    if finder is not None:
        text = _replace_spans(text, finder(text))
    return text


def _replace_spans(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    for start, end, label in sorted(spans, key=lambda s: s[0], reverse=True):
        text = f"{text[:start]}<{label}>{text[end:]}"
    return text


def gate_finder(gate: Any) -> SpanFinder:
    """Spans from the sensitivity gate (`routing.gate.SensitivityGate.find_pii`)."""

    def find(text: str) -> list[tuple[int, int, str]]:
        return [(span.start, span.end, span.type) for span in gate.find_pii(text, source="log")]

    return find


class ScrubbingFilter(logging.Filter):
    """Attach to handlers (so records from every logger pass through it)."""

    def __init__(self, *, secrets: Iterable[str] = (), finder: SpanFinder | None = None) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]
        self._finder = finder

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log it as given, still scrubbed
            message = str(record.msg)
        record.msg = self._scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True

    def _scrub(self, text: str) -> str:
        try:
            return scrub_text(text, secrets=self._secrets, finder=self._finder)
        except Exception:
            # The gate failed: fall back to the regex path rather than logging raw text.
            return scrub_text(text, secrets=self._secrets)


def install_log_scrubbing(settings: Any, *, gate: Any | None = None) -> ScrubbingFilter:
    """Add the filter to every handler configured so far: the root logger's and those of loggers
    with their own handlers (uvicorn's). Call after logging is configured."""
    hosted = settings.models.hosted
    key = hosted.api_key.get_secret_value() if getattr(hosted, "api_key", None) else ""
    security = getattr(settings, "security", None)
    use_gate = gate is not None and (security is None or security.scrub_logs_with_gate)
    scrubber = ScrubbingFilter(secrets=[key], finder=gate_finder(gate) if use_gate else None)
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if scrubber not in handler.filters:
                handler.addFilter(scrubber)
    return scrubber
