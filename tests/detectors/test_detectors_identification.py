"""Government and employer identifiers through the gate, with abbreviated and misspelt context words."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier
from tests.detectors.conftest import found


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("my national ID is 318274659", "NATIONAL_ID"),
        ("natl id no. 5512-8830-174", "NATIONAL_ID"),
        ("NI number JG 10 37 63 A", "NATIONAL_ID"),
        ("my SIN is 046 454 286", "NATIONAL_ID"),
        ("Aadhaar: 2345 6789 0123", "NATIONAL_ID"),
        ("codice fiscale RSSMRA85T10A562S", "NATIONAL_ID"),
        ("CPF 123.456.789-09", "NATIONAL_ID"),
        ("mi DNI es 12345678Z, NIE X1234567L", "NATIONAL_ID"),
        ("numero de securite sociale 1 85 05 78 006 084 36", "NATIONAL_ID"),
        ("resident identity card 11010519491231002X", "NATIONAL_ID"),
        ("BSN 111222333 for the gemeente form", "NATIONAL_ID"),
        ("Steuer-ID 65929970489", "TAX_ID"),
        ("tax file number 123 456 782", "TAX_ID"),
        ("PAN card ABCPE1234F", "TAX_ID"),
        ("my EIN is 12-3456789", "TAX_ID"),
        ("scl scrty 078 05 1120", "US_SSN"),
        ("S S N: 0 7 8 - 0 5 - 1 1 2 0", "US_SSN"),
        ("my passprt nmbr is X1234567", "PASSPORT"),
        ("pasport no 533380006", "PASSPORT"),
        ("drivers licence D1234-56789-01234", "DRIVER_LICENSE"),
        ("visa number 88412207 on the grant letter", "VISA_NUMBER"),
        ("voter id: XYZ4829103", "VOTER_ID"),
        ("nat'l id 318-274-659", "NATIONAL_ID"),
        ("my drivers lic # is S530-4129-8812", "DRIVER_LICENSE"),
        ("NHS number 485 777 3456", "NATIONAL_ID"),
    ],
)
def test_identifiers_are_regulated(gate: SensitivityGate, text: str, entity: str) -> None:
    tier, entities = found(gate, text)
    assert tier is Tier.REGULATED
    assert entity in entities


@pytest.mark.parametrize("text", ["license plate 7ABC123", "VIN 1HGCM82633A004352"])
def test_vehicle_ids_are_pseudonymized(gate: SensitivityGate, text: str) -> None:
    tier, entities = found(gate, text)
    assert tier is Tier.INTERNAL and "VEHICLE_ID" in entities


@pytest.mark.parametrize(
    "text", ["her ssn ends in 4471", "card ending in 0093", "last four of my account are 2210"]
)
def test_partial_identifiers_are_pseudonymized(gate: SensitivityGate, text: str) -> None:
    tier, entities = found(gate, text)
    assert tier is not Tier.PUBLIC and "PARTIAL_IDENTIFIER" in entities


def test_student_ids_are_pseudonymized(gate: SensitivityGate) -> None:
    tier, entities = found(gate, "My student ID is 20231187")
    assert tier is Tier.INTERNAL and "STUDENT_ID" in entities


def test_employee_ids_are_pseudonymized(gate: SensitivityGate) -> None:
    tier, entities = found(gate, "my employee number is 448120, badge on the desk")
    assert tier is Tier.INTERNAL and "EMPLOYEE_ID" in entities


@pytest.mark.parametrize(
    "text",
    [
        "The documentation's sample SSN is 000-00-0000",
        "How do I apply for a national ID card?",
        "What documents do I need to renew my passport?",
        "How many digits does a tax file number have?",
        "Which countries issue a national insurance number?",
        "Is a driving licence valid ID for voting?",
        "The passport office opens at 9 and closes at 17.",
        "The road ends in 2024 at the border.",
    ],
)
def test_questions_about_identifiers_stay_public(gate: SensitivityGate, text: str) -> None:
    assert found(gate, text)[0] is Tier.PUBLIC
