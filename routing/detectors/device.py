"""Device identifiers: serial numbers, IMEI, MAC addresses, and file paths that carry a user name.

For a path only the user-name segment is reported (`C:\\Users\\jdoe\\...` → "jdoe"), so a pseudonym
replaces the name and the path still makes sense to the hosted model. Placeholder user names that
documentation uses ("username", "you", "<user>") are not anyone's name.
"""

from __future__ import annotations

import re

from routing.detectors.base import (
    IGNORE_CASE,
    IdentifierRule,
    all_of,
    context_id_rules,
    digit_count,
    enough_digits,
)
from routing.detectors.checksums import luhn_valid
from routing.detectors.fuzzy import fuzzy

_SERIAL_WORDS = fuzzy(
    "serial",
    "serial number",
    "serial no",
    "sn",
    "device id",
    "device serial",
    "hardware id",
    "service tag",
    "udid",
    "asset tag",
    "product serial",
    "model serial",
    "meid",
    "esn",
    "iccid",
    "sim number",
)
_IMEI_WORDS = fuzzy("imei", "imei number", "meid", "device id", "phone id")
_PLACEHOLDER_USERS = frozenset(
    [
        "user",
        "username",
        "users",
        "you",
        "your",
        "yourname",
        "your_name",
        "name",
        "me",
        "public",
        "shared",
        "default",
        "all",
        "admin",
        "administrator",
        "guest",
        "runner",
        "ubuntu",
        "root",
        "home",
        "<user>",
        "$user",
        "%username%",
        "~",
        "example",
        "test",
    ]
)


def _real_user(value: str) -> bool:
    return value.casefold() not in _PLACEHOLDER_USERS and not value.startswith(("$", "%", "<", "{"))


RULES: tuple[IdentifierRule, ...] = (
    *context_id_rules("device_serial", "DEVICE_SERIAL", _SERIAL_WORDS, score=0.85, min_digits=2, before=32),
    IdentifierRule(
        "serial_prefixed",
        "DEVICE_SERIAL",
        re.compile(r"(?<![\w-])(?:SN|S/N)[-:# ]?(?=[A-Z0-9]*\d)[A-Z0-9]{5,20}(?![\w-])"),
        0.8,
    ),
    IdentifierRule(
        "imei",
        "IMEI",
        re.compile(r"(?<![\w-])(?P<value>\d{2}[ -]?\d{6}[ -]?\d{6}[ -]?\d)(?![\w-])"),
        0.8,
        context=_IMEI_WORDS,
        context_score=0.95,
        require_context=False,
        before=32,
        after=0,
        validate=luhn_valid,
    ),
    IdentifierRule(
        "imei_context",
        "IMEI",
        re.compile(r"(?<![\w-])(?P<value>\d(?:[ -]?\d){13,16})(?![\w-])"),
        0.9,
        context=_IMEI_WORDS,
        before=32,
        after=0,
        validate=all_of(digit_count(14, 17), enough_digits(14)),
    ),
    IdentifierRule(
        "mac_address",
        "MAC_ADDRESS",
        re.compile(
            r"(?<![\w:.-])(?:[0-9A-F]{2}([:-])[0-9A-F]{2}(?:\1[0-9A-F]{2}){4}|[0-9A-F]{4}\.[0-9A-F]{4}\.[0-9A-F]{4})"
            r"(?![\w:.-])",
            IGNORE_CASE,
        ),
        0.85,
        validate=lambda v: len(set(v.replace(":", "").replace("-", "").replace(".", "").lower())) > 1,
    ),
    IdentifierRule(
        "windows_user_path",
        "USER_PATH",
        re.compile(
            r"\b[A-Z]:\\+(?:Users|Documents and Settings)\\+(?P<value>[^\\/\s:*?\"<>|]{2,40})", IGNORE_CASE
        ),
        0.85,
        validate=_real_user,
    ),
    IdentifierRule(
        "unix_user_path",
        "USER_PATH",
        re.compile(r"(?<![\w.])/(?:home|Users)/(?P<value>[A-Za-z0-9._-]{2,40})(?=/|\s|$|[,;:)'\"])"),
        0.85,
        validate=_real_user,
    ),
)
