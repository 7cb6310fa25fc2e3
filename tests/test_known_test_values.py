"""Published test and sample values are nobody's data; a real value next to them still is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from routing.gate import SensitivityGate
from routing.known_test_values import KnownTestValues
from routing.policy import load_policy
from routing.tiers import Tier


@pytest.fixture(scope="module")
def gate() -> Iterator[SensitivityGate]:
    # Rules only: the allow-list applies to any finding, whichever layer made it.
    gate = SensitivityGate(load_policy(), None, timeout_s=30)  # no timing in a logic test
    yield gate
    gate.close()


@pytest.mark.parametrize(
    "text",
    [
        "The sandbox accepts the card 4242 4242 4242 4242 with any CVV",
        "Use Visa test card 4111-1111-1111-1111 in staging",
        "The poster shows the SSA advertising number 987-65-4321",
        "Example IBAN from the registry: GB29 NWBK 6016 1331 9268 19",
        "The docs use 192.0.2.10 and 2001:db8::1 for the server",
        "Call the fictional office at (212) 555-0142",
    ],
)
def test_known_test_values_are_public(gate: SensitivityGate, text: str) -> None:
    decision = gate.classify(text)
    assert decision.tier is Tier.PUBLIC, decision.reasons


@pytest.mark.parametrize(
    "text",
    [
        "my card is 4242 4242 4242 4241",  # one digit off a test card
        "my SSN, not the example, is 123-45-6789",  # a context word never downgrades
        "my SSN, not the example 987-65-4321, is 123-45-6789",  # a real value next to a listed one
        "The sample SSN is 078-05-1120",  # people used it as their own: never listed
        "my IBAN is GB29 NWBK 6016 1331 9268 18",
        "Charge card 4242 4242 4242 4242, exp 04/28, CVV 512",  # expiry and CVV are still values
    ],
)
def test_real_values_stay_sensitive(gate: SensitivityGate, text: str) -> None:
    decision = gate.classify(text)
    assert not decision.failed_closed and decision.tier is Tier.REGULATED, decision.reasons


def test_a_phone_outside_the_fictional_range_is_not_allowed() -> None:
    values = load_policy().known_test_values
    text = "212-555-0242"
    assert not values.covers("PHONE_NUMBER", text, 0, len(text))
    assert values.covers("PHONE_NUMBER", "212-555-0199", 0, 12)
    assert not values.covers("US_BANK_NUMBER", "2125550150", 0, 10)  # phone ranges: phones only


def test_a_listed_value_inside_a_longer_number_is_not_a_match() -> None:
    values = KnownTestValues(values=frozenset({"4242424242424242"}))
    text = "account 94242424242424242"
    assert not values.covers("BANK_ACCOUNT", text, 8, len(text))


@pytest.mark.parametrize(
    "bad", [{"values": ["12345"]}, {"networks": ["192.0.2.0/33"]}, {"values": "4242424242424242"}]
)
def test_a_broken_allow_list_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KnownTestValues.model_validate(bad)
