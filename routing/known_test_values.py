"""Known public test and sample values: identifiers that documentation publishes for everyone to use.

Card brands and payment processors publish test card numbers, the SSA reserves a range of SSNs for
advertisements, the IBAN registry prints example IBANs, RFC 5737 and RFC 3849 set aside address
ranges for documentation, and the NANP reserves 555-0100 to 555-0199 for fiction. A message that
quotes one of them discloses nobody's data, so the gate drops the finding before tiering.

The list lives in the versioned policy (`[known_test_values]`), each entry with its provenance.
It matches a finding's *whole value* only: never a context word ("example", "sample", "test"),
because "my SSN, not the example one, is ..." must stay regulated; a finding that spans more than
the listed value (a card number with its expiry) is kept. It must never hold a value that real
people have used as their own.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NOT_ALNUM = re.compile(r"[^0-9a-z]")
_PHONE_DIGITS = (7, 10, 11)


def canonical(value: str) -> str:
    """The form a listed value and a finding are compared in: letters and digits, lower case."""
    return _NOT_ALNUM.sub("", value.casefold())


class KnownTestValues(BaseModel):
    """The policy's allow-list of published test values, matched on a finding's whole value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Exact values (card numbers, SSNs, IBANs), compared without spaces, dashes or case.
    values: frozenset[str] = frozenset()
    # Documentation address ranges (CIDR): an IP finding inside one is not anyone's address.
    networks: tuple[str, ...] = ()
    # Fictional phone ranges as [first, last] of the last seven digits (NANP 555-0100..555-0199);
    # applied to phone findings only, with or without area code and country code 1.
    phone_ranges: tuple[tuple[int, int], ...] = ()
    entity_types_for_phone_ranges: tuple[str, ...] = Field(default=("PHONE_NUMBER",))

    @field_validator("values", mode="before")
    @classmethod
    def _canonical_values(cls, values: object) -> frozenset[str]:
        if not isinstance(values, list | tuple | set | frozenset):
            raise ValueError("known_test_values.values must be a list of strings")
        out = frozenset(canonical(str(value)) for value in values)
        if any(len(value) < 6 for value in out):
            raise ValueError("known_test_values.values: a listed value must have at least 6 characters")
        return out

    @field_validator("networks")
    @classmethod
    def _networks_parse(cls, networks: tuple[str, ...]) -> tuple[str, ...]:
        for network in networks:
            ipaddress.ip_network(network)  # raises ValueError with the bad entry
        return networks

    def covers(self, entity_type: str, text: str, start: int, end: int) -> bool:
        """Whether the finding `text[start:end]` of `entity_type` is a known test value, or a piece
        of one (NER tags fragments of a long number: "4242" of "4242 4242 4242 4242")."""
        value = text[start:end]
        if canonical(value) in self.values:
            return True
        if any(first <= start and end <= last for first, last in _occurrences(self.values, text)):
            return True
        return self._in_networks(value) or (
            entity_type in self.entity_types_for_phone_ranges and self._in_phone_ranges(value)
        )

    def _in_networks(self, value: str) -> bool:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(network) for network in self.networks)

    def _in_phone_ranges(self, value: str) -> bool:
        if re.search(r"[a-z]", value.casefold()):
            return False
        digits = re.sub(r"\D", "", value)
        if len(digits) not in _PHONE_DIGITS or (len(digits) == 11 and not digits.startswith("1")):
            return False
        last_seven = int(digits[-7:])
        return any(first <= last_seven <= last for first, last in self.phone_ranges)


def _pattern(value: str) -> str:
    # The listed characters in order, each pair optionally separated by one space or dash.
    return "[ -]?".join(re.escape(char) for char in value)


@lru_cache(maxsize=4)
def _matcher(values: frozenset[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    alternatives = "|".join(_pattern(value) for value in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<![0-9a-z])(?:{alternatives})(?![0-9a-z])", re.IGNORECASE)


def _occurrences(values: frozenset[str], text: str) -> list[tuple[int, int]]:
    """Where listed values occur in `text` as whole tokens (start, end)."""
    matcher = _matcher(values)
    return [] if matcher is None else [m.span() for m in matcher.finditer(text)]
