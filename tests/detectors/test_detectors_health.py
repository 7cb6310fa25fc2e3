"""Health and biometric content through the gate: vocabulary near a possession cue is regulated."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier


@pytest.mark.parametrize(
    "text",
    [
        "my smartwatch log has my asthma history",
        "the medication I take for the thing with my thyroid",
        "I'm on sertraline 50mg since March",
        "my dad's A1C came back at 7.9",
        "she was diagnosed with endometriosis last year",
        "I'm allergic to penicillin",
        "my blood pressure was 150/95 this morning",
        "our daughter has ADHD and dyslexia",
        "the BRCA result my mum got was positive",
        "he struggles with panic attacks at work",
        "my wheelchair needs a ramp at the office",
        "diagnosed w/ t2 diabetes last yr",
        "I've been on antidepressants for two years",
        "mom has early dementia",
        "I'm pregnant",
        "the pills I'm on make me dizzy",
        "she takes metformin twice a day",
        "my blood type is O negative",
    ],
)
def test_personal_health_is_regulated(gate: SensitivityGate, text: str) -> None:
    decision = gate.classify(text)
    assert decision.tier is Tier.REGULATED, decision.reasons


@pytest.mark.parametrize(
    "text",
    [
        "What is asthma?",
        "What are the side effects of metformin?",
        "How is blood pressure measured?",
        "Explain the difference between type 1 and type 2 diabetes.",
        "Which foods trigger migraines?",
        "What does a BRCA test look for?",
        "I read an article on asthma",
        "Can I take ibuprofen with coffee?",
        "Do I have to show a prescription at the pharmacy?",
        "I'm asking about asthma for a school project",
        "How is diabetes diagnosed?",
    ],
)
def test_general_health_questions_stay_public(gate: SensitivityGate, text: str) -> None:
    decision = gate.classify(text)
    assert decision.tier is Tier.PUBLIC, decision.reasons


@pytest.mark.parametrize(
    "text",
    [
        "I've been feeling completely hopeless since the layoff",
        "my brother says he feels like a burden",
        "sometimes I just want to die",
    ],
)
def test_mood_and_psychological_notes_are_regulated(gate: SensitivityGate, text: str) -> None:
    decision = gate.classify(text)
    assert decision.tier is Tier.REGULATED and "mental_state" in {topic.name for topic in decision.topics}


@pytest.mark.parametrize(
    "text",
    ["I feel tired of this project", "What does feeling numb after trauma mean?", "A hopeless case in 1998"],
)
def test_ordinary_moods_stay_public(gate: SensitivityGate, text: str) -> None:
    assert gate.classify(text).tier is Tier.PUBLIC
