"""Account and profile data through the gate: customer IDs, handles, employer, date of birth."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier
from tests.detectors.conftest import found


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("customer number CUST40917", "CUSTOMER_ID"),
        ("my cust no is 0047-88213", "CUSTOMER_ID"),
        ("loyalty card 6301 4477 2210", "CUSTOMER_ID"),
        ("frequent flyer number QF4418823", "CUSTOMER_ID"),
        ("my Steam name is xXSniperXx", "GAMING_HANDLE"),
        ("add me, PSN id: dark_falcon_88", "GAMING_HANDLE"),
        ("follow me @ana.rios on Instagram", "SOCIAL_HANDLE"),
        ("my tiktok handle is @mila.bakes", "SOCIAL_HANDLE"),
        ("ig: tom_h_92", "SOCIAL_HANDLE"),
        ("My Venmo is @carla-m", "SOCIAL_HANDLE"),
        ("I work at Acme Corp since 2019", "EMPLOYER"),
        ("my husband worked for Deutsche Bahn for ten years", "EMPLOYER"),
        ("my employer is Northwind Traders", "EMPLOYER"),
        ("I'm a nurse at St. Mary's Hospital", "EMPLOYER"),
        ("I used to work at Deloitte in Madrid", "EMPLOYER"),
    ],
)
def test_account_data_is_pseudonymized(gate: SensitivityGate, text: str, entity: str) -> None:
    tier, entities = found(gate, text)
    assert tier is not Tier.PUBLIC
    assert entity in entities


@pytest.mark.parametrize("text", ["dob 12/04/1988", "d.o.b: 3 March 1990", "my brthdy is 07/11/1979"])
def test_dates_of_birth_are_regulated(gate: SensitivityGate, text: str) -> None:
    tier, entities = found(gate, text)
    assert tier is Tier.REGULATED and "DATE_OF_BIRTH" in entities


@pytest.mark.parametrize(
    "text",
    [
        "How do I change my Steam name?",
        "What is a customer number used for?",
        "Use @dataclass(frozen=True) for the settings object",
        "Email support@example.com if it breaks",
        "I work at home on Fridays",
        "I'm a big fan of Apple",
        "My Steam library is huge.",
        "Where is my order? It was due on 12/03.",
        "my instagram is private",
    ],
)
def test_account_questions_stay_public(gate: SensitivityGate, text: str) -> None:
    tier, entities = found(gate, text)
    assert "CUSTOMER_ID" not in entities and "GAMING_HANDLE" not in entities
    assert "SOCIAL_HANDLE" not in entities and "EMPLOYER" not in entities
    assert tier is not Tier.REGULATED
