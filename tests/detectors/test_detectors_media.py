"""Media and ancillary text through the gate: chat logs, signatures and error logs."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier
from tests.detectors.conftest import found


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("[10:32] Ana Lopez: did you send the file?", "PERSON", "Ana Lopez"),
        ("2024-03-01 10:32 - Tom: yes", "PERSON", "Tom"),
        (
            "Thanks for the help.\n\nKind regards,\nMarta Kowalczyk\nSenior Analyst",
            "PERSON",
            "Marta Kowalczyk",
        ),
        ("see below\n--\nJonas Berg\n+46 70 123 45 67", "PERSON", "Jonas Berg"),
        ("ERROR auth failed for user 'mkowalczyk' from 10.2.3.4", "USERNAME", "mkowalczyk"),
        ("sshd: Accepted password for user jdoe", "USERNAME", "jdoe"),
        ("uid=1001(priya) gid=1001", "USERNAME", "priya"),
    ],
)
def test_people_in_logs_are_pseudonymized(gate: SensitivityGate, text: str, entity: str, value: str) -> None:
    assert found(gate, text)[0] is not Tier.PUBLIC
    assert value in {span.value for span in gate.find_pii(text) if span.type == entity}


def test_a_log_carrying_a_card_is_regulated(gate: SensitivityGate) -> None:
    log = "2024-05-02 11:04:55 WARN payment retry card=4539148803436467 exp=04/28 user=ana.r"
    assert found(gate, log)[0] is Tier.REGULATED


@pytest.mark.parametrize(
    "text",
    [
        "INFO user=root logged in",
        "The user: admin account is locked",
        "At 10:30: Agenda review",
        "Kind regards",
    ],
)
def test_service_accounts_and_plain_lines_stay_public(gate: SensitivityGate, text: str) -> None:
    assert found(gate, text)[0] is Tier.PUBLIC
