"""Weak topic findings (topic words in a message about no one) count only when the classifier agrees.

The classifier here is scripted: these tests are about the rule, not about what a head scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from routing.contextual import ContextualError
from routing.gate import SensitivityGate
from routing.policy import load_policy
from routing.tiers import Route, Tier
from routing.topics import TopicClassifier

# Two financial_account phrases (0.8 + 0.8), no pattern, no person word, not a question.
WEAK = "credit score versus credit report, explained simply"
# The same words about the writer: strong.
STRONG = "my credit score and credit report both look wrong"
MakeGate = Callable[["_Scripted | None"], SensitivityGate]


class _Scripted:
    """A contextual scorer that answers one verdict and remembers what it was asked."""

    def __init__(self, category: str = "financial", score: float = 0.0, *, fail: bool = False) -> None:
        self.verdict = (category, score)
        self.fail = fail
        self.asked: list[str] = []

    def best(self, text: str) -> tuple[str, float]:
        self.asked.append(text)
        if self.fail:
            raise ContextualError("contextual classifier error (RuntimeError)")
        return self.verdict


@pytest.fixture
def gate_with() -> Iterator[MakeGate]:
    gates: list[SensitivityGate] = []

    def make(scorer: _Scripted | None) -> SensitivityGate:
        gate = SensitivityGate(load_policy(), None, contextual=scorer, timeout_s=60)
        gates.append(gate)
        return gate

    yield make
    for gate in gates:
        gate.close()


def test_topic_findings_say_whether_they_are_strong() -> None:
    topics = TopicClassifier(load_policy().topics)
    weak = [t for t in topics.find(WEAK) if t.name == "financial_account"]
    strong = [t for t in topics.find(STRONG) if t.name == "financial_account"]
    assert len(weak) == 1 and not weak[0].strong
    assert len(strong) == 1 and strong[0].strong


def test_weak_topic_without_agreement_stays_public(gate_with: MakeGate) -> None:
    scorer = _Scripted(score=0.1)
    decision = gate_with(scorer).classify(WEAK)
    assert scorer.asked == [WEAK]
    assert decision.tier is Tier.PUBLIC and decision.topics == () and decision.contextual is None


def test_weak_topic_with_agreement_flags_and_shows_both(gate_with: MakeGate) -> None:
    threshold = load_policy().contextual.threshold
    decision = gate_with(_Scripted(score=min(0.99, threshold + 0.05))).classify(WEAK)
    assert decision.tier is Tier.REGULATED and decision.route is Route.LOCAL
    assert decision.rule == "topic:financial_account"
    assert any(reason.startswith("topic financial_account") for reason in decision.reasons)
    assert any(reason.startswith("implied financial information, classifier") for reason in decision.reasons)


def test_strong_topic_flags_alone(gate_with: MakeGate) -> None:
    scorer = _Scripted(score=0.0)
    decision = gate_with(scorer).classify(STRONG)
    assert decision.tier is Tier.REGULATED and decision.rule == "topic:financial_account"
    assert scorer.asked == []  # not public after the deterministic layers: no second look needed


def test_weak_topic_fails_closed_when_the_classifier_errors(gate_with: MakeGate) -> None:
    decision = gate_with(_Scripted(fail=True)).classify(WEAK)
    assert decision.failed_closed and decision.tier is Tier.REGULATED and decision.route is Route.LOCAL


def test_without_a_classifier_a_weak_topic_counts_alone(gate_with: MakeGate) -> None:
    decision = gate_with(None).classify(WEAK)
    assert decision.tier is Tier.REGULATED and decision.rule == "topic:financial_account"


def test_general_question_with_topic_words_is_not_sent_for_a_second_opinion(gate_with: MakeGate) -> None:
    scorer = _Scripted(score=0.99)
    decision = gate_with(scorer).classify("How is a credit score different from a credit report?")
    assert decision.tier is Tier.PUBLIC and scorer.asked == []
