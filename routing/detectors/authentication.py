"""Authentication secrets: passwords and passphrases in free text, PINs, one-time codes, security answers,
private keys and certificates, licence keys, session tokens and cookies.

Everything found here is a secret (regulated in the policy). A secret is recognised by a value next to
context words ("pwd: hunter2", "your code is 482913", "mother's maiden name is Garcia"); a question
about secrets ("How do I reset a password?", "What is the PIN length requirement?") has no value and
must stay untouched.
"""

from __future__ import annotations

import re

from routing.detectors.base import (
    IGNORE_CASE,
    IdentifierRule,
    all_of,
    digit_count,
    not_a_common_word,
    not_one_digit,
)
from routing.detectors.fuzzy import fuzzy


def secret_like(value: str) -> bool:
    """ "hunter2", "Tr0ub4dor&3", "correctHorse", "48291736"; not "required", "Bitwarden" or "10:30"."""
    stripped = value.rstrip(".,;!?)")
    if len(stripped) < 4:
        return False
    if stripped.isdigit():
        return len(stripped) >= 6
    has_letter = any(char.isalpha() for char in stripped)
    has_other = any(not char.isalpha() for char in stripped)
    inner_capital = any(char.isupper() for char in stripped[1:])
    return has_letter and (has_other or inner_capital)


_ASSIGNED = (
    r"(?:\s+(?:is|was|will be|reads|set to|changed to|used to be|it's|it is|it was)\s+"
    r"|\s*(?:=>|:=|=|:|->)\s*)[\"'`]?"
)
_PASSWORD_WORDS = fuzzy(
    "password",
    "pass",
    "pw",
    "pass code",
    "passwd",
    "passcode",
    "passphrase",
    "pass phrase",
    "login",
    "log in",
    "wifi password",
    "wi fi password",
    "network key",
    "wifi key",
    "wpa key",
    "router password",
    "unlock code",
    "master password",
    "credentials",
)
_PIN_WORDS = fuzzy(
    "pin",
    "pin code",
    "pin number",
    "atm pin",
    "card pin",
    "sim pin",
    "phone pin",
    "passcode",
    "pass code",
    "door code",
    "gate code",
    "alarm code",
    "lock code",
    "safe code",
    "keypad code",
    "combination",
    "unlock code",
)
_OTP_WORDS = fuzzy(
    "verification code",
    "one time code",
    "one time password",
    "one time pin",
    "otp",
    "2fa code",
    "mfa code",
    "security code",
    "login code",
    "sign in code",
    "auth code",
    "authentication code",
    "confirmation code",
    "access code",
    "sms code",
    "text code",
    "authenticator code",
    "recovery code",
    "backup code",
)
_SECURITY_QUESTION = fuzzy(
    "maiden name",
    "security answer",
    "security question",
    "secret answer",
    "secret question",
    "memorable word",
    "memorable answer",
    "memorable information",
    "first pet",
    "pet's name",
    "first car",
    "first school",
    "childhood friend",
    "favorite teacher",
    "favourite teacher",
    "street grew up",
    "childhood nickname",
    "city where born",
)
_LICENSE_WORDS = fuzzy(
    "license key",
    "licence key",
    "product key",
    "serial key",
    "activation key",
    "activation code",
    "registration key",
    "registration code",
    "cd key",
    "license code",
    "licence code",
)
_SESSION_WORDS = fuzzy(
    "session",
    "session id",
    "session token",
    "cookie",
    "sessionid",
    "csrf",
    "jsessionid",
    "phpsessid",
    "refresh token",
    "access token",
    "bearer",
    "auth token",
    "id token",
)

RULES: tuple[IdentifierRule, ...] = (
    IdentifierRule(
        "password_context",
        "PASSWORD",
        re.compile(rf"{_ASSIGNED}(?P<value>[^\s\"'`]{{4,64}})", IGNORE_CASE),
        0.9,
        context=_PASSWORD_WORDS,
        before=40,
        after=0,
        validate=secret_like,
    ),
    IdentifierRule(
        "password_word_then_value",
        "PASSWORD",
        # "username mlopez, password Tiger!2020": the word itself, then the value, nothing between.
        re.compile(
            r"(?i:\b(?:password|passwd|pwd|pw|passcode|passphrase|pass)\b)\s+[\"'`]?(?P<value>[^\s\"'`]{4,64})"
        ),
        0.85,
        validate=secret_like,
    ),
    IdentifierRule(
        "pin_context",
        "PIN",
        re.compile(r"(?<![\w.,/-])(?P<value>\d{4,8})(?![\w/-]|[.,]\d)"),
        0.9,
        context=_PIN_WORDS,
        before=28,
        after=0,
        validate=not_one_digit,
    ),
    IdentifierRule(
        "otp_context",
        "OTP_CODE",
        re.compile(
            r"(?<![\w.,/-])(?P<value>\d{3}[ -]?\d{3}|\d{2}[ -]\d{2}[ -]\d{2}|\d{4,8})(?![\w/-]|[.,]\d)"
        ),
        0.9,
        context=_OTP_WORDS,
        before=40,
        after=0,
        validate=digit_count(4, 8),
    ),
    IdentifierRule(
        "otp_your_code",
        "OTP_CODE",
        re.compile(
            r"\b(?:your|my|the|enter|use)\s+(?:\w+\s+)?code\s*(?:is|was|:)?\s*"
            r"(?P<value>\d{3}[ -]?\d{3}|\d{4,8})\b",
            IGNORE_CASE,
        ),
        0.85,
    ),
    IdentifierRule(
        "security_answer",
        "SECURITY_ANSWER",
        re.compile(
            r"(?:\s+(?:is|was)\s+|\s*[:=]\s*)[\"']?(?P<value>[A-Za-z][\w'-]{1,30}(?:\s[A-Z][\w'-]+)?)",
            IGNORE_CASE,
        ),
        0.85,
        context=_SECURITY_QUESTION,
        before=36,
        after=0,
        validate=not_a_common_word,
    ),
    IdentifierRule(
        "private_key_block",
        "PRIVATE_KEY",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*(?:PRIVATE KEY|CERTIFICATE|PGP PRIVATE KEY BLOCK)-----"),
        0.95,
    ),
    IdentifierRule(
        "ssh_private_key",
        "PRIVATE_KEY",
        re.compile(r"\b(?:b3BlbnNzaC1rZXktdjE|PuTTY-User-Key-File-\d)"),
        0.95,
    ),
    IdentifierRule(
        "license_key_context",
        "LICENSE_KEY",
        re.compile(r"(?<![\w-])(?P<value>[A-Z0-9]{4,8}(?:-[A-Z0-9]{4,8}){2,7})(?![\w-])", IGNORE_CASE),
        0.9,
        context=_LICENSE_WORDS,
        before=40,
        after=0,
        validate=all_of(not_one_digit, lambda v: any(c.isdigit() for c in v)),
    ),
    IdentifierRule(
        "license_key_shape",
        "LICENSE_KEY",
        # Five groups of five mixed letters and digits is the classic product-key shape.
        re.compile(r"(?<![\w-])(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{5}(?:-[A-Z0-9]{5}){4}(?![\w-])"),
        0.8,
    ),
    IdentifierRule(
        "session_token",
        "SESSION_TOKEN",
        re.compile(r"(?:\s*(?:is|=|:)\s*|\s+)[\"']?(?P<value>[A-Za-z0-9%_\-.+/]{16,}={0,2})", IGNORE_CASE),
        0.85,
        context=_SESSION_WORDS,
        before=32,
        after=0,
        validate=lambda v: any(c.isdigit() for c in v) and any(c.isalpha() for c in v),
    ),
    IdentifierRule(
        "cookie_header",
        "SESSION_TOKEN",
        re.compile(r"\b(?:set-)?cookie:\s*(?P<value>[^\s;=]+=[^\s;]{8,})", IGNORE_CASE),
        0.9,
    ),
)
