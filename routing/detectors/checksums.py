"""Check digits of identifiers (Luhn, IBAN mod 97, ABA). Used to raise confidence, never to excuse a value:
a card-shaped number next to "card" counts whether or not its checksum holds."""

from __future__ import annotations

import re

from routing.detectors.base import digits_of


def luhn_valid(value: str) -> bool:
    digits = digits_of(value)
    if not digits or len(set(digits)) == 1:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char) * (2 if index % 2 else 1)
        total += number - 9 if number > 9 else number
    return total % 10 == 0


def iban_valid(value: str) -> bool:
    compact = re.sub(r"[\s-]", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def aba_valid(value: str) -> bool:
    digits = digits_of(value)
    if len(digits) != 9 or len(set(digits)) == 1:
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0
