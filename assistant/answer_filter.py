"""Everything between a model's raw stream and what the user sees, in order:

1. placeholders restored (pseudonymized hosted calls);
2. echo guard: a regulated value the gate found in the user's message is masked where the answer
   repeats it (the local model echoed an SSN back as "the answer");
3. output hygiene: markdown/HTML images, external links, smuggled data neutralized *before*
   anything renders, holding back a construct until it is complete; raw HTML is dropped silently;
4. the system-prompt leak guard: a verbatim run of the system prompt is redacted.

The streamed text is safe at every moment; `final_text()` re-checks the whole answer at once
(it also catches a URL assembled from pieces) and is what gets stored and shown at the end.
`cleanup()` says what was taken out, for the turn's receipt (kinds and counts, never values).

Echo decision: regulated turns are answered only by the local model, so a hosted answer never
holds such a value; a local answer has the user's own regulated values masked unless the user
explicitly asked to repeat, format or check their own data (`asks_to_repeat_own_data`), because
then the value is the answer they asked for and it never leaves the machine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from assistant.privacy import Restorer
from assistant.security.leak_guard import PromptLeakGuard
from assistant.security.output_hygiene import OutputSanitizer

MASK = "[hidden]"
_REPEAT_OWN = re.compile(
    r"\b(repeat|re-?format|format|spell out|write out|read back|copy|check|validate|verify|correct|"
    r"fill in|fill out|put (it|them|this|these|my)\b.{0,30}\binto)\b",
    re.IGNORECASE,
)


@runtime_checkable
class RegulatedValueFinder(Protocol):
    """A gate that can say which values in a text made it regulated (kept in memory only)."""

    def regulated_values(self, text: str) -> list[str]: ...


def values_to_mask(privacy: object, message: str) -> list[str]:
    """The user's regulated values an answer must not echo ([] when the user asked for them back)."""
    if asks_to_repeat_own_data(message) or not isinstance(privacy, RegulatedValueFinder):
        return []
    try:
        return privacy.regulated_values(message)
    except Exception:  # no values known: the tier rules still keep the turn local
        return []


def asks_to_repeat_own_data(message: str) -> bool:
    """The user asked for their own data back (formatted, checked, filled into a template)."""
    return bool(_REPEAT_OWN.search(message))


def _value_pattern(value: str) -> re.Pattern[str] | None:
    """The value as written, or with any separators between its digits (536-22-4567 / 536 22 4567)."""
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 4 and len(digits) >= len(re.sub(r"[\s.\-/()+]", "", value)) - 2:
        return re.compile(r"(?<!\d)" + r"[\s.\-/]?".join(digits) + r"(?!\d)")
    if len(value.strip()) < 3:
        return None  # too short to mask without hitting ordinary words
    return re.compile(re.escape(value.strip()), re.IGNORECASE)


class EchoGuard:
    """Masks given values in a stream, holding back just enough text to catch one split across deltas."""

    def __init__(self, values: Sequence[str]) -> None:
        patterns = [_value_pattern(v) for v in dict.fromkeys(values)]
        self._patterns = [p for p in patterns if p is not None]
        # A match is at most twice the value long (a separator between every digit).
        self._hold = max((2 * len(v) for v in values), default=0)
        self._buffer = ""
        self.masked = 0

    def feed(self, text: str) -> str:
        if not self._patterns:
            return text
        self._buffer = self._mask(self._buffer + text)
        cut = max(0, len(self._buffer) - self._hold)
        out, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return out

    def flush(self) -> str:
        out, self._buffer = self._mask(self._buffer), ""
        return out

    def _mask(self, text: str) -> str:
        for pattern in self._patterns:
            text, count = pattern.subn(MASK, text)
            self.masked += count
        return text


class AnswerFilter:
    def __init__(
        self,
        restorer: Restorer,
        sanitizer: OutputSanitizer,
        leak_guard: PromptLeakGuard,
        *,
        echo_values: Sequence[str] = (),
    ) -> None:
        self._restorer = restorer
        self._echo = EchoGuard(echo_values)
        self._hygiene = sanitizer.stream()
        self._leak_guard = leak_guard

    def feed(self, delta: str) -> str:
        return self._leak_guard.feed(self._hygiene.feed(self._echo.feed(self._restorer.feed(delta))))

    def flush(self) -> str:
        echoed = self._echo.feed(self._restorer.flush()) + self._echo.flush()
        tail = self._hygiene.feed(echoed) + self._hygiene.flush()
        return self._leak_guard.feed(tail) + self._leak_guard.flush()

    def final_text(self) -> str:
        """The whole answer, sanitized and leak-checked at once (call after `flush`)."""
        return self._leak_guard.check(self._hygiene.final().text).text

    @property
    def removed(self) -> int:
        return len(self._hygiene.removed)

    def cleanup(self) -> dict[str, int]:
        """What was taken out of the answer, by kind, for the receipt."""
        counts: dict[str, int] = {}
        for finding in self._hygiene.final().removed:
            key = "markup" if finding.kind == "html" else finding.kind
            counts[key] = counts.get(key, 0) + 1
        if self._echo.masked:
            counts["echoed_value"] = self._echo.masked
        return counts
