"""Keeps planted secrets and the system prompt out of what the user sees.

A canary (a random string planted in the system prompt, or in a document the user may not read)
must never appear in an answer: not verbatim, not base64- or hex-encoded, not reversed, not
spelled out with spaces or dashes. `PromptLeakGuard` finds those forms and a verbatim run of the
system prompt (12 words or more) and redacts them. `feed`/`flush` stream it like the pipeline's
restorer, holding back only as many characters as the longest secret form needs.
It never stores or logs a secret; findings name the kind of leak, not the value.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

REDACTED = "[withheld]"
_WORDS_IN_A_LEAK = 12


class LeakResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    leaks: tuple[str, ...] = ()  # kinds: "canary", "canary-encoded", "system-prompt"

    @property
    def leaked(self) -> bool:
        return bool(self.leaks)


def _forms(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "canary": secret,
        "canary-encoded": base64.b64encode(raw).decode().rstrip("="),
        "canary-urlsafe": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "canary-hex": raw.hex(),
        "canary-reversed": secret[::-1],
    }


def _spaced(secret: str) -> re.Pattern[str]:
    """The secret with any separators between its characters ("C A N A R Y", "C-A-N...")."""
    return re.compile(r"[\s\-_.·*`]*".join(re.escape(char) for char in secret), re.IGNORECASE)


class PromptLeakGuard:
    def __init__(self, secrets: Sequence[str], *, system_prompt: str = "") -> None:
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for secret in (s for s in secrets if len(s) >= 4):
            for kind, form in _forms(secret).items():
                self._patterns.append(
                    (
                        kind.split("-")[0] if kind == "canary" else "canary-encoded",
                        re.compile(re.escape(form), re.IGNORECASE),
                    )
                )
            self._patterns.append(("canary", _spaced(secret)))
        words = system_prompt.split()
        self._prompt_runs = {
            " ".join(words[i : i + _WORDS_IN_A_LEAK]).lower()
            for i in range(max(0, len(words) - _WORDS_IN_A_LEAK + 1))
        }
        # While streaming only secret forms are redacted (quoting the prompt is caught by `check`
        # on the whole answer), so hold back just enough for the longest secret form to complete.
        longest = max((len(s) for s in secrets), default=0)
        self._hold = 4 * longest
        self._pending = ""

    def check(self, text: str) -> LeakResult:
        leaks: list[str] = []
        for kind, pattern in self._patterns:
            text, count = pattern.subn(REDACTED, text)
            if count and kind not in leaks:
                leaks.append(kind)
        if self._prompt_runs and self._quotes_prompt(text):
            leaks.append("system-prompt")
            text = "I can't share my instructions or configuration."
        return LeakResult(text=text, leaks=tuple(leaks))

    def _quotes_prompt(self, text: str) -> bool:
        words = re.sub(r"\s+", " ", text).lower().split(" ")
        return any(
            " ".join(words[i : i + _WORDS_IN_A_LEAK]) in self._prompt_runs
            for i in range(max(0, len(words) - _WORDS_IN_A_LEAK + 1))
        )

    def feed(self, delta: str) -> str:
        """Release text that no secret form can still straddle (secret forms only)."""
        self._pending += delta
        if len(self._pending) <= self._hold:
            return ""
        checked = self._redact_forms(self._pending)
        cut = max(0, len(checked) - self._hold)
        released, self._pending = checked[:cut], checked[cut:]
        return released

    def flush(self) -> str:
        text, self._pending = self._redact_forms(self._pending), ""
        return text

    def _redact_forms(self, text: str) -> str:
        for _, pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return text
