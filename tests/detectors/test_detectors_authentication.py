"""Authentication secrets through the gate: passwords, PINs, one-time codes, security answers, keys."""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate
from routing.tiers import Tier
from tests.detectors.conftest import found


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("the login password is Autumn2024!", "PASSWORD"),
        ("my pwd: hunter22", "PASSWORD"),
        ("pwd => Zx!92kLm", "PASSWORD"),
        ("Here's my login: username mlopez, password Tiger!2020", "PASSWORD"),
        ("I forgot my password, it used to be Summer2019!", "PASSWORD"),
        ("my pass is Sunflower#9", "PASSWORD"),
        ("pasword = Tr0ub4dor&3 for the shared drive", "PASSWORD"),
        ("p.a.s.s.w.o.r.d is Blue-Kettle-77", "PASSWORD"),
        ("wifi password: Bl4ckCat99", "PASSWORD"),
        ("The passphrase was correctHorseBattery", "PASSWORD"),
        ("my PIN is 4719", "PIN"),
        ("my P I N is 4 7 1 9", "PIN"),
        ("card pin: nine three one two", "PIN"),
        ("my pass code for the gate: 8 8 1 2", "PIN"),
        ("the wifi pw is sunnyday2024", "PASSWORD"),
        ("WiFi: Baker_St_Guest / key: tulips&rain7", "PASSWORD"),
        ("your code is 482913", "OTP_CODE"),
        ("verification code 731 904, don't share it", "OTP_CODE"),
        ("the 2FA code they texted me was 55 81 20", "OTP_CODE"),
        ("my mother's maiden name is Garcia", "SECURITY_ANSWER"),
        ("security answer: Rufus", "SECURITY_ANSWER"),
        ("first pet's name was Biscuit", "SECURITY_ANSWER"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA", "PRIVATE_KEY"),
        ("-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE", "PRIVATE_KEY"),
        ("product key: 7XK2M-Q9P4T-H3W8B-R6N2C-J5V1D", "LICENSE_KEY"),
        ("licence key ABCD-1234-EFGH-5678 for my copy", "LICENSE_KEY"),
        ("session id = 8f14e45fceea167a5a36dedd4bea2543", "SESSION_TOKEN"),
        ("Cookie: sessionid=q8w7e6r5t4y3u2i1o0p", "SESSION_TOKEN"),
    ],
)
def test_secrets_are_regulated(gate: SensitivityGate, text: str, entity: str) -> None:
    tier, entities = found(gate, text)
    assert tier is Tier.REGULATED
    assert entity in entities


@pytest.mark.parametrize(
    "text",
    [
        "What is the PIN length requirement?",
        "How do I reset a password?",
        "The password is required and must have 12 characters.",
        "My password manager is Bitwarden.",
        "I forgot my PIN, what should I do?",
        "Where do I enter the verification code?",
        "What is a security question?",
        "How do session cookies work?",
        "Is a 2FA code safer than SMS?",
        "How do I pass the exam in 2024?",
        "The pass rate was 85% in 2023",
        "The default password is admin, change it after login",
    ],
)
def test_questions_about_secrets_stay_public(gate: SensitivityGate, text: str) -> None:
    assert found(gate, text)[0] is Tier.PUBLIC


def test_only_the_value_is_reported(gate: SensitivityGate) -> None:
    text = "the login password is Autumn2024!"
    spans = [span for span in gate.detect(text).spans if span.type == "PASSWORD"]
    assert {span.value for span in spans} == {"Autumn2024!"}
