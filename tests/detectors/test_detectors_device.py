"""Device identifiers through the gate: serials, IMEI, MAC, and paths that carry a user name."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier
from tests.detectors.conftest import found


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("device serial SN-88XK21Q", "DEVICE_SERIAL"),
        ("the srl nmbr on the sticker is C02XK1YZJG5H", "DEVICE_SERIAL"),
        ("service tag 7QX4K92 on my laptop", "DEVICE_SERIAL"),
        ("IMEI 490154203237518", "IMEI"),
        ("imei: 35 209900 176148 1", "IMEI"),
        ("MAC 00:1A:2B:3C:4D:5E", "MAC_ADDRESS"),
        ("my router's mac is a4-5e-60-c2-19-0b", "MAC_ADDRESS"),
        ("open C:\\Users\\jdoe\\Documents\\tax.pdf", "USER_PATH"),
        ("the log is in /home/mkowalski/app/logs", "USER_PATH"),
        ("saved to /Users/ana.rios/Desktop/cv.docx", "USER_PATH"),
    ],
)
def test_device_identifiers_are_pseudonymized(gate: SensitivityGate, text: str, entity: str) -> None:
    tier, entities = found(gate, text)
    assert tier is not Tier.PUBLIC
    assert entity in entities


def test_only_the_user_name_of_a_path_is_replaced(gate: SensitivityGate) -> None:
    text = "open C:\\Users\\jdoe\\Documents\\tax.pdf"
    assert [span.value for span in gate.find_pii(text) if span.type == "USER_PATH"] == ["jdoe"]


@pytest.mark.parametrize(
    "text",
    [
        "Where do I find the serial number on a MacBook?",
        "What is an IMEI and why does it matter?",
        "Copy the file to C:\\Users\\<user>\\AppData",
        "Config lives in /home/username/.config/app",
        "The cable reached 3.5 million homes by mid-1994.",
    ],
)
def test_device_questions_stay_public(gate: SensitivityGate, text: str) -> None:
    assert found(gate, text)[0] is Tier.PUBLIC
