"""The gate's batch entry point (`SensitivityGate.detect_many`, used for a document's chunks) gives
exactly the decisions and spans of the per-text path, and fails closed as a whole.

The real models (spaCy, Rampart, the contextual MiniLM) over many texts: the authored sensitivity
set, chunks of the rag_tech documents, and edge cases (blank texts, texts longer than one Rampart
window, weak topic words, general questions); scripted fakes for the batching and failure logic."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from assistant.services import tier_classifier
from knowledge.chunking import chunk_document
from knowledge.ingestion import classify_all
from knowledge.parsing import parse_document_safely
from routing.contextual import ContextualClassifier, build_contextual
from routing.gate import Detection, SensitivityGate, build_gate
from routing.policy import load_policy
from routing.recognizers import Finding
from routing.settings import RoutingSettings
from routing.tiers import Tier
from routing.token_ner import TokenNer

DATA = Path(__file__).parent / "data"
LONG = (
    "Dear Margaret Thornbury, thank you for the report on the Norman conquest. "
    + "The committee met in Springfield and discussed the schedule at length. " * 12
    + "Please send the forms to 12 Elm St, Apt 4, Springfield, IL 62704 or call +1 415 555 0100. "
    + "My SSN is 078-05-1120 and my passport number is X1234567."
)
EDGE_CASES = [
    "",
    "   \n\t ",
    "x",
    "What is the capital of France?",
    "How do I reset my password?",
    "I was diagnosed with diabetes last spring and my doctor prescribed insulin.",
    "the sugar condition I have had since childhood is acting up again",
    "Our policy on sick leave is in the handbook.",
    "Write to Jane Doe at jane.doe@example.com or call +1 415 555 0100.",
    "IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111.",
    LONG,
    LONG.upper(),
]


def _sensitivity_texts(step: int) -> list[str]:
    lines = (DATA / "sensitivity" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[::step]]


def _chunks(limit: int) -> list[str]:
    texts: list[str] = []
    for path in sorted((DATA / "rag_tech" / "docs").glob("*.md")):
        texts += [chunk.text for chunk in chunk_document(parse_document_safely(path))]
    return texts[:: max(1, len(texts) // limit)][:limit]


TEXTS = EDGE_CASES + _sensitivity_texts(step=6) + _chunks(limit=40)


@pytest.fixture(scope="module")
def gate() -> Iterator[SensitivityGate]:
    # A generous limit: this test compares decisions, and a loaded machine must not fail one closed.
    real = build_gate(RoutingSettings(classify_timeout_s=60))
    yield real
    real.close()


def _comparable(detection: Detection) -> tuple[object, ...]:
    decision = detection.decision.model_copy(update={"elapsed_ms": 0.0})
    return decision, tuple((s.type, s.start, s.end, s.score, s.recognizer, s.value) for s in detection.spans)


def test_the_batch_gives_the_decisions_and_spans_of_the_per_text_path(gate: SensitivityGate) -> None:
    assert len(TEXTS) > 120
    one_by_one = [gate.detect(text, source="document") for text in TEXTS]
    batched = gate.detect_many(TEXTS, source="document")
    assert not any(d.decision.failed_closed for d in one_by_one + batched)
    for text, alone, together in zip(TEXTS, one_by_one, batched, strict=True):
        assert _comparable(together) == _comparable(alone), text[:80]
    # The comparison covered every tier and both contextual paths, not only easy public texts.
    tiers = {d.decision.tier for d in batched}
    assert tiers == {Tier.PUBLIC, Tier.INTERNAL, Tier.REGULATED}
    assert any(d.decision.contextual is not None for d in batched)


def test_token_ner_batch_equals_one_by_one_over_long_and_blank_texts() -> None:
    ner = TokenNer().load()
    texts = [*EDGE_CASES, *_chunks(limit=12)]
    assert ner.find_many(texts) == [ner.find(text) for text in texts]
    assert ner.find_many([]) == []


def test_contextual_batch_equals_one_by_one() -> None:
    classifier = build_contextual()
    assert isinstance(classifier, ContextualClassifier)
    texts = [text for text in EDGE_CASES if text.strip()] + _sensitivity_texts(step=20)
    assert classifier.best_many(texts) == [classifier.best(text) for text in texts]
    assert classifier.best_many([]) == []


class _Detector:
    """A scripted detector: a PERSON wherever "Alice" appears; counts calls of each entry point."""

    def __init__(self, *, fail: bool = False, short: bool = False) -> None:
        self.single: list[str] = []
        self.batches: list[list[str]] = []
        self._fail, self._short = fail, short

    def find(self, text: str) -> list[Finding]:
        self.single.append(text)
        start = text.find("Alice")
        return [Finding("PERSON", start, start + 5, 0.9, "scripted")] if start >= 0 else []

    def find_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        self.batches.append(list(texts))
        if self._fail:
            raise RuntimeError("detector down")
        found = [self.find(text) for text in texts]
        return found[:-1] if self._short else found


class _Scorer:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def best(self, text: str) -> tuple[str, float]:
        return ("health", 0.99) if "sugar" in text else ("health", 0.01)

    def best_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        self.batches.append(list(texts))
        return [self.best(text) for text in texts]


DOCUMENT = ["Alice wrote this.", "  ", "the sugar one again", "Quarterly numbers are up."]


def _scripted_gate(detector: _Detector, scorer: _Scorer | None = None) -> SensitivityGate:
    return SensitivityGate(load_policy(), detector, contextual=scorer or _Scorer(), timeout_s=60)


def test_each_layer_sees_a_document_in_one_call_and_blank_texts_not_at_all() -> None:
    detector, scorer = _Detector(), _Scorer()
    gate = _scripted_gate(detector, scorer)
    try:
        decisions = gate.classify_many(DOCUMENT, source="document")
    finally:
        gate.close()
    assert detector.batches == [["Alice wrote this.", "the sugar one again", "Quarterly numbers are up."]]
    # The classifier is asked about what the deterministic layers found public or internal only for
    # pseudonymized values (policy `run_on_internal_types`), read with those values as placeholders.
    assert scorer.batches == [["<PERSON_1> wrote this.", "the sugar one again", "Quarterly numbers are up."]]
    assert [d.tier for d in decisions] == [Tier.INTERNAL, Tier.PUBLIC, Tier.REGULATED, Tier.PUBLIC]
    assert all(d.source == "document" for d in decisions)


@pytest.mark.parametrize("detector", [_Detector(fail=True), _Detector(short=True)], ids=["raises", "short"])
def test_a_failed_batch_fails_every_text_closed(detector: _Detector) -> None:
    gate = _scripted_gate(detector)
    try:
        decisions = gate.classify_many(DOCUMENT)
    finally:
        gate.close()
    assert [d.tier for d in decisions] == [Tier.REGULATED] * len(DOCUMENT)
    assert all(d.failed_closed for d in decisions)


def test_an_empty_batch_asks_nothing() -> None:
    detector = _Detector()
    gate = _scripted_gate(detector)
    try:
        assert gate.detect_many([]) == []
    finally:
        gate.close()
    assert detector.batches == [] and detector.single == []


class _GatePrivacy:
    def __init__(self, gate: SensitivityGate) -> None:
        self.gate = gate

    def assess(self, text: str, *, source: str) -> object:
        return self.gate.classify(text, source=source)


def test_ingestion_classifies_a_document_through_the_batch() -> None:
    detector = _Detector()
    gate = _scripted_gate(detector)
    try:
        classify = tier_classifier(_GatePrivacy(gate))  # type: ignore[arg-type]
        tiers = classify_all(classify, [*DOCUMENT, "Alice wrote this."])
    finally:
        gate.close()
    assert tiers == [Tier.INTERNAL, Tier.PUBLIC, Tier.REGULATED, Tier.PUBLIC, Tier.INTERNAL]
    assert len(detector.batches) == 1 and detector.single == detector.batches[0]
