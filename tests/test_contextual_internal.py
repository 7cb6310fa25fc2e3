"""The contextual classifier reads messages that are internal only for pseudonymized personal data
(a name, e-mail, phone, employer...): the value is masked before a hosted call, what the message
implies is not ("Tell Marco my thyroid thing flared up again" must stay local). It reads them as the
hosted model would get them, values replaced by placeholders. Logic with a scripted scorer; the
shipped classifier on the dev split of `tests/data/contextual_internal` (its held-back split is only
measured, by `tests/data/contextual_internal/measure.py`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from routing.gate import GateDecision, SensitivityGate, build_gate
from routing.policy import load_policy
from routing.recognizers import Finding
from routing.settings import RoutingSettings
from routing.tiers import Tier

DATA = Path(__file__).parent / "data" / "contextual_internal"

# (carrier entity type, message): internal for that value alone, something regulated implied.
IMPLIED = [
    ("PERSON", "Dear Anna Berg, the thing with my lungs flared up again after the move."),
    ("EMAIL_ADDRESS", "Forward to p.novak@example.com that my login is still the cat's name and 99."),
    ("PHONE_NUMBER", "Text 07700 900781 that the safe code is my mother's birthday."),
    ("EMPLOYER", "I work at Siemens and my manager doesn't know about the thing with my head."),
]


class _Scripted:
    """A contextual scorer that gives one verdict to every text and records what it read."""

    def __init__(self, category: str, score: float) -> None:
        self.verdict, self.read = (category, score), list[str]()

    def best(self, text: str) -> tuple[str, float]:
        self.read.append(text)
        return self.verdict

    def best_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return [self.best(text) for text in texts]


class _PhoneDetector:
    """Stands in for the NER detector (phones come from it, not from the rules)."""

    def find(self, text: str) -> list[Finding]:
        return [Finding("PHONE_NUMBER", m.start(), m.end(), 0.9, "scripted") for m in _PHONE.finditer(text)]


_PHONE = re.compile(r"\+?\d[\d ]{8,}\d")


def _classify(texts: Sequence[str], scorer: _Scripted, *, batch: bool = False) -> list[GateDecision]:
    gate = SensitivityGate(load_policy(), _PhoneDetector(), contextual=scorer, timeout_s=60)
    try:
        return gate.classify_many(texts) if batch else [gate.classify(text) for text in texts]
    finally:
        gate.close()


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize(("carrier", "text"), IMPLIED)
def test_an_implied_disclosure_next_to_personal_data_goes_regulated(
    carrier: str, text: str, batch: bool
) -> None:
    scorer = _Scripted("health", 0.95)
    (decision,) = _classify([text], scorer, batch=batch)
    assert carrier in {e.type for e in decision.entities}
    assert (decision.tier, decision.rule) == (Tier.REGULATED, "contextual:health")
    # It read the message as the hosted model would get it: the value is a placeholder.
    (read,) = scorer.read
    (entity,) = [e for e in decision.entities if e.type == carrier]
    assert text[entity.start : entity.end] not in read and f"<{carrier}_1>" in read


@pytest.mark.parametrize(("carrier", "text"), IMPLIED)
def test_personal_data_with_nothing_implied_stays_internal(carrier: str, text: str) -> None:
    scorer = _Scripted("health", 0.2)
    (decision,) = _classify([text], scorer)
    assert (decision.tier, len(scorer.read)) == (Tier.INTERNAL, 1)


def test_an_internal_verdict_does_not_raise_an_internal_message() -> None:
    scorer = _Scripted("contact", 0.99)
    (decision,) = _classify(["Ask Dana Whitfield to send the slides."], scorer)
    assert decision.tier is Tier.INTERNAL


def test_a_media_verdict_does_not_count_on_a_message_read_for_its_personal_data() -> None:
    """ "media" is a log or signature carrying personal values: the ones already found and masked."""
    scorer = _Scripted("media", 0.99)
    named, public = _classify(
        ["Dear Anna Berg, the letter arrived last night.", "The letter arrived."], scorer
    )
    assert (named.tier, public.tier, len(scorer.read)) == (Tier.INTERNAL, Tier.REGULATED, 2)


def test_a_verdict_counts_on_a_message_read_for_its_personal_data_from_the_internal_threshold() -> None:
    rule = load_policy().contextual
    assert rule.internal_threshold is not None and rule.internal_threshold > rule.threshold
    between = (rule.threshold + rule.internal_threshold) / 2
    texts = ["Dear Anna Berg, the thing from last summer again.", "The thing from last summer again."]
    named, public = _classify(texts, _Scripted("authentication", between))
    assert (named.tier, public.tier) == (Tier.INTERNAL, Tier.REGULATED)


@pytest.mark.parametrize(
    "text",
    [
        "Dear Anna Berg, my SSN is 078-05-1120.",  # regulated already: nothing to add
        "How does Dana Whitfield reset a password in the admin console?",  # a general question
    ],
)
def test_the_classifier_is_not_asked_when_it_cannot_change_the_decision(text: str) -> None:
    scorer = _Scripted("authentication", 0.99)
    (decision,) = _classify([text], scorer)
    assert scorer.read == []
    assert decision.rule != "contextual:authentication"


def test_every_internal_entity_type_of_the_default_policy_is_read() -> None:
    """A new internal type is read unless the policy takes it out on figures (fail towards local)."""
    policy = load_policy()
    internal = {name for name, rule in policy.entities.items() if rule.tier is Tier.INTERNAL}
    internal |= {r.entity for r in policy.custom_recognizers if r.tier is Tier.INTERNAL}
    assert "PERSON" in internal and internal <= set(policy.contextual.run_on_internal_types)


def _rows(split: str) -> list[dict[str, object]]:
    lines = (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_authored_set_is_split_and_balanced() -> None:
    dev, held = _rows("dev"), _rows("heldback")
    assert not {r["text"] for r in dev} & {r["text"] for r in held}
    for rows in (dev, held):
        positives = sum(bool(r["regulated"]) for r in rows)
        assert positives == len(rows) - positives
    assert not {t for _, t in IMPLIED} & {r["text"] for r in dev + held}


@pytest.fixture(scope="module")
def gate() -> Iterator[SensitivityGate]:
    built = build_gate(RoutingSettings())
    yield built
    built.close()


def test_the_shipped_gate_on_the_dev_split(gate: SensitivityGate) -> None:
    """Recall of implied disclosures 0.815 and false flags 0.074 when measured (27 rows a side); the
    floors leave room for one or two rows to move with the name detectors, not more."""
    rows = _rows("dev")
    decisions = gate.classify_many([str(r["text"]) for r in rows])
    regulated = [
        (bool(r["regulated"]), d.tier is Tier.REGULATED) for r, d in zip(rows, decisions, strict=True)
    ]
    positives = [hit for sensitive, hit in regulated if sensitive]
    negatives = [hit for sensitive, hit in regulated if not sensitive]
    assert sum(positives) / len(positives) >= 0.80
    assert sum(negatives) / len(negatives) <= 0.12


@pytest.mark.parametrize("text", ["Ask Dana to send the slides.", "Marco's flight lands at 6."])
def test_ordinary_messages_with_a_name_stay_internal(gate: SensitivityGate, text: str) -> None:
    assert gate.classify(text).tier is Tier.INTERNAL
