"""Policy file validation, one-line errors, and reload on change."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from routing.policy import PolicyError, PolicySource, default_policy_text, load_policy, parse_policy
from routing.tiers import Route, Tier

# The version the shipped policy file declares (bumped on every change to it).
SHIPPED = tomllib.loads(default_policy_text())["version"]


def test_default_policy_routes() -> None:
    policy = load_policy()
    assert policy.route_for(Tier.REGULATED) is Route.LOCAL
    assert policy.route_for(Tier.INTERNAL) is Route.HOSTED_PSEUDONYMIZED
    assert policy.route_for(Tier.PUBLIC) is Route.HOSTED
    for regulated in (
        "US_SSN",
        "CREDIT_CARD",
        "IBAN_CODE",
        "BANK_ACCOUNT",
        "MEDICAL_RECORD_NUMBER",
        "PASSPORT",
        "DATE_OF_BIRTH",
        "API_KEY",
    ):
        assert policy.entity_rule(regulated).tier is Tier.REGULATED
    for internal in ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"):
        assert policy.entity_rule(internal).tier is Tier.INTERNAL
    assert "PERSON" in policy.pseudonymized_types() and "LOCATION" not in policy.pseudonymized_types()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace('[tiers.regulated]\nroute = "local"', '[tiers.regulated]\nroute = "hosted"'),
            "tiers.regulated.route must be 'local'",
        ),
        (
            lambda t: t.replace(
                '[entities.US_SSN]\ntier = "regulated"', '[entities.US_SSN]\ntier = "secret"'
            ),
            "entities.US_SSN.tier",
        ),
        (
            lambda t: t + '\n[[custom_recognizers]]\nname = "bad"\nentity = "BAD"\nregex = "(unclosed"\n',
            "does not compile",
        ),
        (lambda t: t + '\n[[custom_recognizers]]\nname = "both"\nentity = "BOTH"\n', "exactly one of"),
        (lambda t: t.replace("[tiers.public]", "[tiers.public"), "not valid TOML"),
        (lambda t: t.replace(f'version = "{SHIPPED}"', ""), "version"),
    ],
)
def test_invalid_policies_fail_with_one_line(edit, expected: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy(edit(default_policy_text()), origin="policy file x.toml")
    message = str(error.value)
    assert expected in message and "\n" not in message and message.startswith("policy file x.toml")


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "nope.toml")


def test_reload_on_change_keeps_last_good_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(default_policy_text())
    source = PolicySource(path)
    assert source.current().version == SHIPPED
    path.write_text(default_policy_text().replace(f'version = "{SHIPPED}"', 'version = "next"'))
    os.utime(path, ns=(1, 10**18))
    assert source.current().version == "next"
    path.write_text("this is = = not toml")
    os.utime(path, ns=(1, 2 * 10**18))
    assert source.current().version == "next"
    assert source.last_error is not None and "not valid TOML" in source.last_error


def test_every_detector_entity_has_a_tier_in_the_default_policy() -> None:
    from routing.detectors import ENTITY_TYPES

    policy = load_policy()
    missing = sorted(entity for entity in ENTITY_TYPES if policy.entity_rule(entity) is None)
    assert missing == []


@pytest.mark.parametrize(
    ("entity", "tier"),
    [
        ("PASSWORD", Tier.REGULATED),
        ("PIN", Tier.REGULATED),
        ("OTP_CODE", Tier.REGULATED),
        ("CARD_CVV", Tier.REGULATED),
        ("NATIONAL_ID", Tier.REGULATED),
        ("TAX_ID", Tier.REGULATED),
        ("INCOME", Tier.REGULATED),
        ("CUSTOMER_ID", Tier.INTERNAL),
        ("DEVICE_SERIAL", Tier.INTERNAL),
        ("GPS_COORDINATES", Tier.INTERNAL),
        ("USER_PATH", Tier.INTERNAL),
        ("SOCIAL_HANDLE", Tier.INTERNAL),
    ],
)
def test_detector_families_map_to_their_tiers(entity: str, tier: Tier) -> None:
    assert load_policy().entity_rule(entity).tier is tier


def test_health_topics_are_regulated_vocabularies() -> None:
    topics = {topic.name: topic for topic in load_policy().topics}
    assert topics["mental_state"].tier is Tier.REGULATED
    for name in ("health_condition", "medication", "health_measurement"):
        assert topics[name].tier is Tier.REGULATED
        # Vocabulary (weight 0) only counts through the `{phrases}` possession cues.
        assert len(topics[name].phrases) >= 90
        assert any("{phrases}" in pattern for pattern in topics[name].patterns)
