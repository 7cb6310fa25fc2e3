"""Putting real values back into a streamed answer before the user sees it.

The hosted model answers in placeholders (`<PERSON_1>`); `StreamRestorer.feed(delta)` returns the
text that is safe to show now, with known placeholders replaced by their values, and holds back
only a tail that could still be the start of a placeholder split across chunks (`<PER` + `SON_1>`).
`flush()` returns the rest at the end. Slightly mangled placeholders (`<PERSON_1 >`, `<person_1>`,
`PERSON_1`, `[PERSON_1]`) are restored too; unknown ones are left as they are.
"""

from __future__ import annotations

import re

from routing.vault import PseudonymVault

_TOLERANT = re.compile(
    r"(?P<open>[<\[]\s*)?(?<![A-Za-z0-9_])"
    r"(?P<type>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z][A-Za-z0-9]*)*)[_ ](?P<num>\d+)"
    r"(?![0-9])(?P<close>\s*[>\]])?"
)
# A bracket that may open a placeholder still arriving.
_OPEN_TAIL = re.compile(r"[<\[]\s?(?P<inner>[A-Za-z0-9_]*(?: \d*)?)\s?$")
_BARE_TAIL = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_]*(?: \d*)?$")
_MAX_HOLD = 48


def restore_text(text: str, vault: PseudonymVault) -> str:
    """Replace every known placeholder (tolerantly matched) in a complete text."""

    def replace(match: re.Match[str]) -> str:
        placeholder = f"<{match.group('type').upper()}_{int(match.group('num'))}>"
        value = vault.original(placeholder)
        if value is None:
            return match.group()
        if match.group("open") and not match.group("close"):
            return match.group("open") + value  # keep an unmatched bracket as written
        if match.group("close") and not match.group("open"):
            return value + match.group("close")
        return value

    return _TOLERANT.sub(replace, text)


class StreamRestorer:
    def __init__(self, vault: PseudonymVault) -> None:
        self._vault = vault
        self._pending = ""
        self._inner_names = [p[1:-1] for p in vault.placeholders()]

    def feed(self, delta: str) -> str:
        self._pending += delta
        hold = self._hold_index(self._pending)
        ready, self._pending = self._pending[:hold], self._pending[hold:]
        return restore_text(ready, self._vault)

    def flush(self) -> str:
        ready, self._pending = self._pending, ""
        return restore_text(ready, self._vault)

    def _hold_index(self, text: str) -> int:
        """Where a possible, still incomplete placeholder starts (len(text) when none)."""
        self._inner_names = [p[1:-1] for p in self._vault.placeholders()]
        if not self._inner_names:
            return len(text)  # nothing was pseudonymized: no text can become a placeholder
        tail = _OPEN_TAIL.search(text[-_MAX_HOLD:])
        if tail is not None and (
            not tail.group("inner") or self._could_become_placeholder(tail.group("inner"))
        ):
            return len(text) - len(tail.group())
        bare = _BARE_TAIL.search(text[-_MAX_HOLD:])
        if bare is not None and self._could_become_placeholder(bare.group()):
            return len(text) - len(bare.group())
        return len(text)

    def _could_become_placeholder(self, fragment: str) -> bool:
        candidate = fragment.upper().replace(" ", "_")
        return any(name.startswith(candidate) or candidate.startswith(name) for name in self._inner_names)
