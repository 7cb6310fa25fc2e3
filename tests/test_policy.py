"""Policy file validation, one-line errors, and reload on change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from routing.policy import PolicyError, PolicySource, default_policy_text, load_policy, parse_policy
from routing.tiers import Route, Tier


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
        (lambda t: t.replace('version = "2025.1"', ""), "version"),
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
    assert source.current().version == "2025.1"
    path.write_text(default_policy_text().replace('version = "2025.1"', 'version = "2025.2"'))
    os.utime(path, ns=(1, 10**18))
    assert source.current().version == "2025.2"
    path.write_text("this is = = not toml")
    os.utime(path, ns=(1, 2 * 10**18))
    assert source.current().version == "2025.2"
    assert source.last_error is not None and "not valid TOML" in source.last_error
