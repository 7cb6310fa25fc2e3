"""Contact data through the gate: relatives' names, emergency contacts, maiden names, birthplace."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier
from tests.detectors.conftest import found


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("my emergency contact is my sister Ana", "Ana"),
        ("next of kin: Tomasz Nowak", "Tomasz Nowak"),
        ("My son Oliver starts school in May", "Oliver"),
        ("her husband's name is jorge", "jorge"),
        ("my maiden name was Okafor", "Okafor"),
    ],
)
def test_relatives_names_are_pseudonymized(gate: SensitivityGate, text: str, value: str) -> None:
    assert found(gate, text)[0] is not Tier.PUBLIC
    assert value in {span.value for span in gate.find_pii(text) if span.type == "PERSON"}


@pytest.mark.parametrize(
    "text", ["I was born in Lyon, France", "place of birth: Rosario", "I grew up in Tampere"]
)
def test_place_of_birth_is_pseudonymized(gate: SensitivityGate, text: str) -> None:
    tier, entities = found(gate, text)
    assert tier is Tier.INTERNAL and "PLACE_OF_BIRTH" in entities


def test_places_in_someones_life_are_pseudonymized(gate: SensitivityGate) -> None:
    tier, entities = found(gate, "my son's school is Lincoln Elementary")
    assert tier is Tier.INTERNAL and "PERSONAL_LOCATION" in entities


@pytest.mark.parametrize(
    "text",
    [
        "write to m.kowalska+bank@poczta.example.pl",
        "email me jdoe at gmail dot com",
        "r.ahmed [at] uni [dot] ac [dot] uk",
    ],
)
def test_email_found_without_presidio(gate: SensitivityGate, text: str) -> None:
    tier, entities = found(gate, text)
    assert tier is Tier.INTERNAL and "EMAIL_ADDRESS" in entities


@pytest.mark.parametrize(
    "text",
    [
        "My sister is visiting next week",
        "What should an emergency contact form include?",
        "Einstein was born in Ulm.",
        "How do I change my maiden name on a bank account?",
        "We will meet at the office dot com launch",
    ],
)
def test_relations_without_names_stay_public(gate: SensitivityGate, text: str) -> None:
    assert found(gate, text)[0] is Tier.PUBLIC
