"""The gate is asked once per (policy, source, text): the same message assessed again (a thread's
title, a resumed chat's history) reuses the decision; a failed-closed one is never reused, and a
reloaded policy starts afresh. A counting double stands in for the gate."""

from __future__ import annotations

from assistant.privacy_gate import GatePrivacy
from routing.decision import GateDecision
from routing.decision_memo import DecisionMemo
from routing.gate import Detection
from routing.tiers import Route, Tier


def decision(tier: Tier = Tier.PUBLIC, *, failed_closed: bool = False) -> GateDecision:
    return GateDecision(
        tier=tier, route=Route.HOSTED if tier == Tier.PUBLIC else Route.LOCAL, rule="r", reasons=(),
        policy_version="p1", failed_closed=failed_closed,
    )  # fmt: skip


class FakePolicy:
    version = "p1"

    def pseudonymized_types(self) -> frozenset[str]:
        return frozenset()


class CountingGate:
    def __init__(self, *answers: GateDecision) -> None:
        self.policy: object = FakePolicy()
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    def classify(self, text: str, *, source: str = "message") -> GateDecision:
        self.asked.append((source, text))
        return self.answers.pop(0)

    def detect(self, text: str, *, source: str = "message") -> Detection:
        return Detection(self.classify(text, source=source), ())


def privacy(gate: CountingGate) -> GatePrivacy:
    return GatePrivacy(gate)  # type: ignore[arg-type]


def test_the_same_text_is_classified_once() -> None:
    gate = CountingGate(decision(Tier.INTERNAL))
    p = privacy(gate)
    first = p.assess("Ask Dana about the budget", source="message")
    assert p.assess("Ask Dana about the budget", source="message") == first
    assert gate.asked == [("message", "Ask Dana about the budget")]


def test_another_source_or_text_is_classified_again() -> None:
    gate = CountingGate(decision(), decision(), decision())
    p = privacy(gate)
    p.assess("hello", source="message")
    p.assess("hello", source="document")
    p.assess("hello!", source="message")
    assert len(gate.asked) == 3


def test_a_failed_closed_decision_is_asked_again() -> None:
    gate = CountingGate(decision(Tier.REGULATED, failed_closed=True), decision())
    p = privacy(gate)
    assert p.assess("hello", source="message").failed_closed
    assert p.assess("hello", source="message").tier == Tier.PUBLIC
    assert len(gate.asked) == 2


def test_a_reloaded_policy_forgets_every_decision() -> None:
    gate = CountingGate(decision(), decision(Tier.REGULATED))
    p = privacy(gate)
    p.assess("my results", source="message")
    gate.policy = FakePolicy()  # the policy file changed
    assert p.assess("my results", source="message").tier == Tier.REGULATED


def test_the_memo_is_bounded_and_keeps_no_text() -> None:
    memo = DecisionMemo(max_entries=2)
    policy = object()
    for text in ("a", "b", "c"):
        memo.put(policy, "message", text, decision())
    assert memo.get(policy, "message", "a") is None  # the least recently used went first
    assert memo.get(policy, "message", "c") is not None
    assert all(isinstance(digest, bytes) for _source, digest in memo._entries)
