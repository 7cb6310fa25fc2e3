"""Replacing personal values with placeholders in every part of a request before a hosted call.

Every message (system prompt, history, retrieved context, the user's message) goes through
detection; each value gets its conversation-stable placeholder from the vault; and any value the
vault knows (from this request or an earlier turn) is replaced wherever else it appears, even where
detection missed it this time. The report lists entity types and counts, never values.

If detection fails this raises (`GateError`): the caller must then not make the hosted call.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from models.base import ChatMessage, ChatRequest
from routing.gate import PiiSpan
from routing.vault import PLACEHOLDER, PseudonymVault

Detect = Callable[[str], Sequence[PiiSpan]]


class PseudonymizationReport(BaseModel):
    """What was replaced: counts per entity type and per message role. No values."""

    model_config = ConfigDict(frozen=True)

    replaced: dict[str, int] = {}
    by_role: dict[str, dict[str, int]] = {}

    @property
    def total(self) -> int:
        return sum(self.replaced.values())


def _known_values_pattern(vault: PseudonymVault) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    pairs = vault.known_values()
    if not pairs:
        return None, {}
    lookup = {" ".join(value.casefold().split()): placeholder for value, placeholder in pairs}
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in value.split()) for value, _ in pairs)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), lookup


def _replacements(
    text: str,
    spans: Sequence[PiiSpan],
    vault: PseudonymVault,
    known: re.Pattern[str] | None,
    lookup: dict[str, str],
) -> list[tuple[int, int, str]]:
    candidates = [(s.start, s.end, vault.placeholder_for(s.type, s.value)) for s in spans]
    if known is not None:
        for match in known.finditer(text):
            placeholder = lookup.get(" ".join(match.group().casefold().split()))
            if placeholder is not None:
                candidates.append((match.start(), match.end(), placeholder))
    chosen: list[tuple[int, int, str]] = []
    for start, end, placeholder in sorted(candidates, key=lambda c: (-(c[1] - c[0]), c[0])):
        if all(end <= other[0] or start >= other[1] for other in chosen):
            chosen.append((start, end, placeholder))
    return sorted(chosen)


def pseudonymize_text(text: str, spans: Sequence[PiiSpan], vault: PseudonymVault) -> tuple[str, Counter[str]]:
    """`text` with the given spans and every value the vault knows replaced by placeholders."""
    for span in spans:
        vault.placeholder_for(span.type, span.value)
    known, lookup = _known_values_pattern(vault)
    parts: list[str] = []
    counts: Counter[str] = Counter()
    position = 0
    for start, end, placeholder in _replacements(text, spans, vault, known, lookup):
        parts.append(text[position:start])
        parts.append(placeholder)
        match = PLACEHOLDER.fullmatch(placeholder)
        counts[match.group(1) if match else "UNKNOWN"] += 1
        position = end
    parts.append(text[position:])
    return "".join(parts), counts


def pseudonymize_request(
    request: ChatRequest, detect: Detect, vault: PseudonymVault
) -> tuple[ChatRequest, PseudonymizationReport]:
    """The request as it may leave the machine, and a report of what was replaced."""
    detected = [list(detect(message.content)) for message in request.messages]
    # Register every value first, so a value found in one message is replaced in all of them.
    for spans in detected:
        for span in spans:
            vault.placeholder_for(span.type, span.value)
    messages: list[ChatMessage] = []
    total: Counter[str] = Counter()
    by_role: dict[str, Counter[str]] = {}
    for message, spans in zip(request.messages, detected, strict=True):
        content, counts = pseudonymize_text(message.content, spans, vault)
        messages.append(message.model_copy(update={"content": content}))
        total.update(counts)
        by_role.setdefault(message.role, Counter()).update(counts)
    report = PseudonymizationReport(
        replaced=dict(total), by_role={role: dict(counts) for role, counts in by_role.items() if counts}
    )
    return request.model_copy(update={"messages": tuple(messages)}), report
