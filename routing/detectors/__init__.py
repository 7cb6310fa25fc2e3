"""The deterministic DLP detector families, one module per category, collected in `ALL_RULES`.

| module             | category                                                          | tier (policy) |
| ------------------ | ----------------------------------------------------------------- | ------------- |
| `authentication`   | passwords, PINs, one-time codes, security answers, keys, tokens   | regulated     |
| `financial`        | cards (with context), CVV, expiry, wallets, loans, income, scores | regulated*    |
| `identification`   | SSN, national IDs, tax IDs, passport, licence, visa, voter        | regulated*    |
| `device`           | serial numbers, IMEI, MAC, user-name paths                        | internal      |
| `location`         | GPS, IP, Wi-Fi names, bookings, itineraries                       | internal      |
| `account`          | customer IDs, handles, employer                                   | internal      |
| `contact`          | relatives' names, emergency contacts, birthplace, e-mail          | internal      |
| `media`            | chat-log speakers, signature names, user names in logs            | internal      |

(* transaction IDs and employee IDs are internal.) Health and biometric content is topic-like and
lives in the policy's topic taxonomy (`routing.topics`), not here. Context words in every family go
through the fuzzy matcher (`routing.detectors.fuzzy`). Which entity maps to which tier is the
policy's decision (`routing/default_policy.toml`); nothing here decides a tier or keeps a value.
This package must never import from a higher package (`knowledge`, `assistant`).
"""

from __future__ import annotations

from routing.detectors import (
    account,
    authentication,
    contact,
    device,
    financial,
    identification,
    location,
    media,
)
from routing.detectors.base import IdentifierRule

FAMILIES: dict[str, tuple[IdentifierRule, ...]] = {
    "authentication": authentication.RULES,
    "financial": financial.RULES,
    "identification": identification.RULES,
    "device": device.RULES,
    "location": location.RULES,
    "account": account.RULES,
    "contact": contact.RULES,
    "media": media.RULES,
}
ALL_RULES: tuple[IdentifierRule, ...] = tuple(rule for rules in FAMILIES.values() for rule in rules)

# Every entity type a family can report: the policy must give each one a tier.
ENTITY_TYPES: frozenset[str] = frozenset(rule.entity for rule in ALL_RULES)
