"""Assessing a message keeps the spans of that analysis for pseudonymizing it: exactly what
`SensitivityGate.find_pii` finds in the same text, and the text is not analysed a second time.

The real gate (session fixture); the texts hold names, an address, an e-mail and a phone number,
and one holds nothing to replace.
"""

from __future__ import annotations

import pytest

from assistant.privacy_gate import GatePrivacy
from models.base import ChatMessage, ChatRequest

TEXTS = [
    "Write a thank-you note to Margaret Thornbury for the quarterly report.",
    "Ask Dana Whitfield at dana.whitfield@example.org or +1 415 555 0134 about the offsite.",
    "Send the invoice to 1200 Harbor Boulevard, Oakland, and copy Priya Raman.",
    "List three practical tips for writing a clear weekly status update.",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_assessed_spans_are_what_find_pii_finds(gate_privacy: GatePrivacy, text: str) -> None:
    privacy = GatePrivacy(gate_privacy.gate)  # empty caches of its own
    privacy.assess(text, source="message")
    kept = privacy._spans.get((privacy.gate.policy.version, text))
    assert kept is not None
    assert kept == privacy.gate.find_pii(text, source="outgoing")


def test_pseudonymizing_an_assessed_message_does_not_analyse_it_again(gate_privacy: GatePrivacy) -> None:
    privacy = GatePrivacy(gate_privacy.gate)
    text = TEXTS[0]
    privacy.assess(text, source="message")
    analysed: list[str] = []
    real = privacy.gate.find_pii

    def counting(value: str, *, source: str = "message"):  # type: ignore[no-untyped-def]
        analysed.append(value)
        return real(value, source=source)

    privacy.gate.find_pii = counting  # type: ignore[method-assign,assignment]
    try:
        request = ChatRequest.of([ChatMessage(role="user", content=text)], max_tokens=8)
        outgoing, replaced = privacy.pseudonymize(request, privacy.new_vault())
    finally:
        del privacy.gate.find_pii  # the shared gate's own method again
    assert analysed == []
    assert replaced and "Thornbury" not in outgoing.messages[0].content
