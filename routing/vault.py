"""The per-conversation pseudonym vault: each personal value ↔ one stable placeholder.

`<PERSON_1>` stays the same person for the whole conversation, across turns and messages, and
"John Smith" / "john  smith" share it. The mapping lives in process memory only: the vault refuses
to be pickled, and its `repr` shows counts, never values. Safe to use from several threads.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from routing.gate import canonical_value

PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")


class PseudonymVault:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, str] = {}
        self._originals: dict[str, str] = {}
        self._surface: dict[str, str] = {}
        self._counters: Counter[str] = Counter()

    def placeholder_for(self, entity_type: str, value: str) -> str:
        """The placeholder of `value`, created on first sight (the first type seen names it)."""
        key = canonical_value(value)
        with self._lock:
            placeholder = self._by_key.get(key)
            if placeholder is None:
                self._counters[entity_type] += 1
                placeholder = f"<{entity_type}_{self._counters[entity_type]}>"
                self._by_key[key] = placeholder
                self._originals[placeholder] = value
            self._surface.setdefault(value, placeholder)
            return placeholder

    def original(self, placeholder: str) -> str | None:
        with self._lock:
            return self._originals.get(placeholder)

    def known_values(self) -> list[tuple[str, str]]:
        """(value as written, placeholder) pairs, longest value first, for replacing repeat mentions."""
        with self._lock:
            pairs = list(self._surface.items())
        return sorted(pairs, key=lambda pair: -len(pair[0]))

    def placeholders(self) -> list[str]:
        with self._lock:
            return list(self._originals)

    def __len__(self) -> int:
        with self._lock:
            return len(self._originals)

    def __repr__(self) -> str:
        return f"PseudonymVault({len(self)} values)"

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("PseudonymVault holds personal values and must never leave the process")
