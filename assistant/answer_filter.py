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


_SEPARATOR = r"[\s.\-/]?"


def _value_patterns(value: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """How the value is found in an answer, and how the start of it (still arriving) looks.

    The value as written, or with any separators between its digits (536-22-4567 / 536 22 4567).
    The second pattern matches, in full, any text a match may still grow from: "536-2" now, or a
    whole digit match that a next digit could still cancel."""
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 4 and len(digits) >= len(re.sub(r"[\s.\-/()+]", "", value)) - 2:
        growing = ""
        for digit in reversed(digits[1:]):
            growing = f"(?:{_SEPARATOR}(?:{digit}{growing})?)?"
        whole = re.compile(r"(?<!\d)" + _SEPARATOR.join(digits) + r"(?!\d)")
        return whole, re.compile(rf"(?<!\d){digits[0]}{growing}")
    if len(value.strip()) < 3:
        return None  # too short to mask without hitting ordinary words
    text = value.strip()
    growing = "".join(f"(?:{re.escape(char)}" for char in text[1:]) + ")?" * (len(text) - 1)
    return re.compile(re.escape(text), re.IGNORECASE), re.compile(re.escape(text[0]) + growing, re.I)


class EchoGuard:
    """Masks given values in a stream, holding back only a tail that may still become one (split
    across deltas): "my number is 536-2" shows "my number is " and holds "536-2"."""

    def __init__(self, values: Sequence[str]) -> None:
        found = [_value_patterns(v) for v in dict.fromkeys(values)]
        self._patterns = [whole for whole, _ in filter(None, found)]
        self._growing = [start for _, start in filter(None, found)]
        # A match is at most twice the value long (a separator between every digit).
        self._hold = max((2 * len(v) for v in values), default=0)
        self._buffer = ""
        self.masked = 0

    def feed(self, text: str) -> str:
        if not self._patterns:
            return text
        self._buffer = self._mask(self._buffer + text, final=False)
        cut = self._growing_from(self._buffer)
        out, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return out

    def _growing_from(self, text: str) -> int:
        """Where the earliest tail that may still become a value starts (len(text): none)."""
        for start in range(max(0, len(text) - self._hold), len(text)):
            if any(pattern.fullmatch(text, start) for pattern in self._growing):
                return start
        return len(text)

    def flush(self) -> str:
        out, self._buffer = self._mask(self._buffer), ""
        return out

    def _mask(self, text: str, *, final: bool = True) -> str:
        """Mask every match; while streaming, not one that reaches the end of `text`: a next digit
        may still make it a longer number (it stays held, as a value still arriving)."""
        for pattern in self._patterns:
            source = text

            def masked(match: re.Match[str], source: str = source) -> str:
                if not final and match.end() == len(source):
                    return match.group()
                self.masked += 1
                return MASK

            text = pattern.sub(masked, source)
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
