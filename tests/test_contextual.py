"""The learned contextual layer: deterministic training, the shipped head, failing closed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from routing.contextual import (
    NONE_LABEL,
    ContextualClassifier,
    ContextualError,
    ContextualHead,
    UnavailableContextual,
    build_contextual,
    is_general_question,
    load_head,
)
from routing.gate import SensitivityGate
from routing.policy import load_policy
from routing.tiers import Route, Tier
from routing.train_contextual import fit

SPLITS = Path(__file__).parent / "data" / "sensitivity"
# Clear implied disclosures written for this test; none is in any split (checked below).
IMPLIED = {
    "my sugar condition from childhood means I need insulin breaks": "health",
    "the pills my psychiatrist gave me for my nerves make me sleepy": "health",
    "my password is the name of my cat plus the year I was born": "authentication",
    "I owe three months of rent and my card got declined again": "financial",
}


def _toy_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(3, 16))
    y = np.repeat(np.arange(3), 20)
    x = centres[y] + 0.3 * rng.normal(size=(60, 16))
    return x / np.linalg.norm(x, axis=1, keepdims=True), y


def _toy_head() -> ContextualHead:
    x, y = _toy_data()
    weights, bias = fit(x, y, classes=3, steps=300)
    return ContextualHead((NONE_LABEL, "health", "financial"), weights, bias, 1.0, "sha-a")


def test_training_is_deterministic_and_learns() -> None:
    x, y = _toy_data()
    first = fit(x, y, classes=3, steps=300)
    second = fit(x, y, classes=3, steps=300)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    predicted = (x @ first[0] + first[1]).argmax(axis=1)
    assert (predicted == y).mean() > 0.9


def test_head_round_trips_and_refuses_another_embedder(tmp_path: Path) -> None:
    head = _toy_head()
    head.save(tmp_path / "head.npz")
    loaded = load_head(tmp_path / "head.npz")
    assert loaded.labels == head.labels and np.allclose(loaded.weights, head.weights)
    with pytest.raises(ContextualError, match="another embedding model"):
        ContextualClassifier(loaded, lambda texts: np.zeros((len(texts), 16)), embedder_sha256="sha-b")


@pytest.mark.parametrize("content", [b"", b"not an npz file", b"PK\x03\x04broken"])
def test_bad_head_file_fails_closed(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "head.npz"
    path.write_bytes(content)
    with pytest.raises(ContextualError):
        load_head(path)
    assert isinstance(build_contextual(path), UnavailableContextual)
    assert isinstance(build_contextual(tmp_path / "missing.npz"), UnavailableContextual)


def test_gate_with_a_broken_classifier_decides_regulated() -> None:
    broken = UnavailableContextual("contextual head unreadable")
    gate = SensitivityGate(load_policy(), None, contextual=broken, timeout_s=60)
    try:
        decision = gate.classify("Summarize my notes from Tuesday")
    finally:
        gate.close()
    assert decision.tier is Tier.REGULATED and decision.route is Route.LOCAL and decision.failed_closed
    assert "contextual head unreadable" in decision.reasons[0]


def test_classifier_error_while_scoring_fails_closed() -> None:
    def broken(texts: object) -> np.ndarray:
        raise RuntimeError("onnx session died")

    classifier = ContextualClassifier(_toy_head(), broken, embedder_sha256="sha-a")
    with pytest.raises(ContextualError, match="RuntimeError"):
        classifier.best("anything")


def test_examples_are_in_no_split() -> None:
    texts = {json.loads(line)["text"] for path in SPLITS.glob("*.jsonl") for line in path.open()}
    assert not set(IMPLIED) & texts


@pytest.fixture(scope="module")
def shipped() -> ContextualClassifier:
    classifier = build_contextual()
    assert isinstance(classifier, ContextualClassifier)
    return classifier


def test_shipped_head_flags_clear_implied_disclosures(shipped: ContextualClassifier) -> None:
    threshold = load_policy().contextual.threshold
    for text, category in IMPLIED.items():
        found, score = shipped.best(text)
        assert (found, score >= threshold) == (category, True), text


def test_gate_reports_the_verdict_in_reasons(shipped: ContextualClassifier) -> None:
    # Without topics, so the verdict shown is the classifier's whatever the topic vocabularies hold.
    policy = load_policy().model_copy(update={"topics": ()})
    gate = SensitivityGate(policy, None, contextual=shipped, timeout_s=60)
    try:
        implied = gate.classify("the pills my psychiatrist gave me for my nerves make me sleepy")
        plain = gate.classify("Summarize the meeting notes from Tuesday")
    finally:
        gate.close()
    assert implied.tier is Tier.REGULATED and implied.rule == "contextual:health"
    assert implied.contextual is not None and implied.contextual.category == "health"
    assert any(re.match(r"implied health information, classifier [01]\.\d\d", r) for r in implied.reasons)
    assert plain.tier is Tier.PUBLIC and plain.contextual is None


@pytest.mark.parametrize(
    ("text", "general"),
    [
        ("How do I reset a password?", True),
        ("Quick question: what is the PIN length requirement?", True),
        ("how do I change my password, it's my dog's name", False),
        ("the password from last summer with the year and an exclamation mark", False),
        ("What should I do, she told everyone about her diagnosis", False),
        ("How do I change my password on the portal?", True),
        ("and the other one?", True),
        ("The onboarding form asks for a tax number", True),
        ("Can you tidy this up? the drive password is still my cat's name", False),
    ],
)
def test_general_questions_and_contentless_messages_are_not_scored(text: str, general: bool) -> None:
    assert is_general_question(text) is general
