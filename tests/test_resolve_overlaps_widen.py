"""Overlapping spans to pseudonymize (issue 12): a span that sticks out of the chosen one widens
it, so no part of a detected value is left in clear; the widened value is the text it covers."""

from __future__ import annotations

from routing.gate import PiiSpan, resolve_overlaps


def _span(text: str, value: str, kind: str, score: float = 0.9) -> PiiSpan:
    start = text.index(value)
    return PiiSpan(kind, start, start + len(value), score, "test", value)


def test_partial_overlap_widens_the_longer_span() -> None:
    text = "Fritz-Armstrong\nĐoko and ul. Miła 53"
    name = _span(text, "Fritz-Armstrong\nĐoko", "PERSON")
    address = _span(text, "Đoko and ul. Miła 53", "STREET_ADDRESS", 0.8)
    (span,) = resolve_overlaps([name, address])
    assert (span.start, span.end) == (0, len(text))
    assert span.value == text and span.type == "PERSON"


def test_contained_span_is_dropped_and_disjoint_spans_stay() -> None:
    text = "Ana Silva at 12 Main Street"
    spans = [_span(text, "Ana Silva", "PERSON"), _span(text, "Silva", "PERSON")]
    spans.append(_span(text, "12 Main St", "X"))
    resolved = [(s.type, s.value) for s in resolve_overlaps(spans)]
    assert resolved == [("PERSON", "Ana Silva"), ("X", "12 Main St")]


def test_span_bridging_two_chosen_spans_is_not_merged() -> None:
    text = "aaaa bbbb cccc dddd"
    spans = [_span(text, "aaaa bbbb", "A"), _span(text, "cccc dddd", "B"), _span(text, "bbbb cccc", "C", 0.1)]
    assert [s.value for s in resolve_overlaps(spans)] == ["aaaa bbbb", "cccc dddd"]
