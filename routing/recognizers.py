"""Recognizers for what Presidio misses: regulated identifiers by shape, checksum and context.

Presidio's own US_SSN recognizer drops numbers its validator knows to be invalid or advertising
(`078-05-1120`), and it has nothing for medical record numbers, health-plan ids, dates of birth,
bank accounts or secrets. A privacy gate must treat a value shaped like a regulated identifier as
one, whether or not it is a valid one. These rules run on normalized text (see `routing.normalize`)
and report spans only; they never decide a tier and never keep a value.

`BUILTIN_RULES` is these core rules plus every DLP detector family in `routing.detectors`
(authentication, financial, identification, device, location, account, contact, media), so the gate
runs them all. Organisation-specific identifiers come from the policy (`CustomRecognizer`), compiled
here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from routing.detectors import ALL_RULES
from routing.detectors.authentication import secret_like
from routing.detectors.base import (
    Finding,
    IdentifierRule,
    MatchCache,
    digit_count,
    digits_of,
    enough_digits,
    not_one_digit,
)
from routing.detectors.checksums import aba_valid, iban_valid, luhn_valid
from routing.detectors.fuzzy import AnyContext, FuzzyContext
from routing.policy import CustomRecognizer

__all__ = [
    "ADDRESS_RULES",
    "BUILTIN_RULES",
    "PERSON_RULES",
    "Finding",
    "IdentifierRule",
    "aba_valid",
    "custom_rules",
    "find_identifiers",
    "iban_valid",
    "luhn_valid",
]

_I = re.IGNORECASE


def _phrase_regex(phrase: str) -> str:
    if phrase.isalpha() and len(phrase) <= 4:
        # Acronyms are also written spaced out: "S S N", "s.s.n".
        return r"[\s_.-]?".join(phrase)
    return phrase.replace(" ", r"[\s_.-]*")


def _context(*phrases: str) -> re.Pattern[str]:
    """Context words, matched without letters around them (so `ssn_078…` in a file name counts)."""
    words = "|".join(_phrase_regex(phrase) for phrase in phrases)
    return re.compile(rf"(?<![a-z])(?:{words})(?![a-z])", _I)


def _context_either(*phrases: str) -> AnyContext:
    """Context words exactly (with punctuation: "ss#", "a/c") or fuzzily ("scl scrty", "acct", "dob")."""
    return AnyContext(_context(*phrases), FuzzyContext(phrases))


def _card_shaped(value: str) -> bool:
    return 13 <= len(digits_of(value)) <= 19 and luhn_valid(value)


_SSN_CONTEXT = _context_either("ssn", "ss#", "ss no", "social security", "social sec", "soc sec", "ssa")
_CARD_CONTEXT = _context_either("card", "cc", "visa", "mastercard", "amex", "credit", "debit", "cvv", "pan")
_BANK_CONTEXT = _context_either("account", "acct", "a/c", "checking", "savings", "bank", "sort code", "bsb")
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4})"
)
_ID_VALUE = r"(?<![\w-])(?P<value>[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){4,19})(?![\w-])"

_CORE_RULES: tuple[IdentifierRule, ...] = (
    # SSN-shaped numbers count whatever their validity: 078-05-1120 is the famous "invalid" one.
    # A single repeated digit ("000-00-0000") is a documentation sample, not anyone's number.
    IdentifierRule(
        "ssn_dashed",
        "US_SSN",
        re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
        0.85,
        validate=not_one_digit,
    ),
    IdentifierRule(
        "ssn_separated",
        "US_SSN",
        re.compile(r"(?<![\d.-])\d{3}([ .])\d{2}\1\d{4}(?![\d.-])"),
        0.6,
        context=_SSN_CONTEXT,
        context_score=0.9,
        require_context=False,
        validate=not_one_digit,
    ),
    IdentifierRule(
        "ssn_context",
        "US_SSN",
        re.compile(r"(?<!\d)\d{3}\s?[-. ]?\s?\d{2}\s?[-. ]?\s?\d{4}(?!\d)"),
        0.85,
        context=_SSN_CONTEXT,
        validate=not_one_digit,
    ),
    IdentifierRule(
        "credit_card_luhn",
        "CREDIT_CARD",
        re.compile(r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])"),
        0.8,
        context=_CARD_CONTEXT,
        context_score=0.95,
        require_context=False,
        validate=_card_shaped,
    ),
    IdentifierRule(
        "credit_card_short",
        "CREDIT_CARD",
        re.compile(r"(?<![\d-])\d{12}(?![\d-])"),
        0.85,
        context=_CARD_CONTEXT,
        validate=luhn_valid,
    ),
    IdentifierRule(
        "iban_shaped",
        "IBAN_CODE",
        re.compile(
            r"(?<![A-Z0-9])[A-Z]{2}\d{2}"
            r"(?:[A-Z0-9]{11,30}|(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)(?![A-Z0-9])",
            _I,
        ),
        0.75,
        context=_context_either("iban", "bank", "account", "transfer", "wire", "swift", "bic"),
    ),
    IdentifierRule(
        "aba_routing",
        "ABA_ROUTING_NUMBER",
        re.compile(r"(?<![\d-])\d{9}(?![\d-])|(?<![\d-])\d{4}-\d{4}-\d(?![\d-])"),
        0.9,
        context=_context_either("routing", "aba", "rtn", "transit number", "routing transit"),
        validate=aba_valid,
    ),
    IdentifierRule(
        "bank_account",
        "BANK_ACCOUNT",
        re.compile(r"(?<![\w-])\d(?:[ -]?\d){5,19}(?![\w-])"),
        0.8,
        context=_BANK_CONTEXT,
        before=40,
        after=0,
        validate=digit_count(6, 20),
    ),
    IdentifierRule(
        "medical_record_number",
        "MEDICAL_RECORD_NUMBER",
        re.compile(r"(?<![\w-])(?:[A-Z]{1,3}[-:#]?)?\d{5,12}(?![\w-])", _I),
        0.9,
        context=_context_either(
            "mrn",
            "medical record",
            "med rec",
            "patient id",
            "patient number",
            "patient no",
            "patient #",
            "chart number",
            "chart no",
            "hospital number",
            "record number",
        ),
        before=40,
    ),
    IdentifierRule(
        "health_plan_id",
        "HEALTH_PLAN_ID",
        re.compile(_ID_VALUE, _I),
        0.85,
        context=_context_either(
            "member id",
            "member number",
            "member no",
            "member #",
            "subscriber id",
            "subscriber number",
            "policy number",
            "policy no",
            "insurance id",
            "insurance number",
            "health plan",
            "plan id",
            "group number",
            "medicaid",
            "medicare",
            "beneficiary id",
        ),
        before=40,
        validate=enough_digits(4),
    ),
    IdentifierRule(
        "date_of_birth",
        "DATE_OF_BIRTH",
        re.compile(rf"(?<![\w/.-])(?P<value>{_DATE})(?![\w/-])", _I),
        0.9,
        context=_context_either(
            "dob", "d o b", "date of birth", "birth date", "birthdate", "born", "birthday"
        ),
        before=32,
        after=0,
    ),
    IdentifierRule(
        "passport",
        "PASSPORT",
        re.compile(r"(?<![\w-])(?P<value>[A-Z0-9]{6,10})(?![\w-])", _I),
        0.9,
        context=_context_either("passport"),
        before=40,
        validate=enough_digits(5),
    ),
    IdentifierRule(
        "driver_license",
        "DRIVER_LICENSE",
        re.compile(_ID_VALUE, _I),
        0.85,
        context=_context_either(
            "driver's license",
            "drivers license",
            "driver license",
            "driver's licence",
            "driving licence",
            "driving license",
            "dl",
            "dl#",
            "license number",
            "licence number",
            "license no",
            "licence no",
        ),
        before=40,
        validate=enough_digits(5),
    ),
    IdentifierRule(
        "api_key",
        "API_KEY",
        re.compile(
            r"(?<![\w-])(?:sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}|(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}"
            r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
            r"|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
            r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
            r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
        ),
        0.95,
    ),
    IdentifierRule(
        "secret_assignment",
        "API_KEY",
        re.compile(
            r"(?:api[\s_-]?key|access[\s_-]?key|secret[\s_-]?key|client[\s_-]?secret|auth[\s_-]?token|bearer"
            r"|access[\s_-]?token|token)\s*(?:is|=|:)?\s*[\"']?(?P<value>[A-Za-z0-9_\-./+=]{16,})",
            _I,
        ),
        0.85,
        validate=enough_digits(2),
    ),
    IdentifierRule(
        "password_assignment",
        "PASSWORD",
        re.compile(
            r"(?<![a-z])(?:password|passwd|pwd|passcode|passphrase|pin code|pin)\s*(?:is|was|=|:|->)\s*"
            r"[\"']?(?P<value>[^\s\"']{4,})",
            _I,
        ),
        0.9,
        validate=secret_like,
    ),
    IdentifierRule(
        "phone_context",
        "PHONE_NUMBER",
        re.compile(
            r"(?<![\w+])(?P<value>\+?\(?\d[\d ().-]{4,20}\d)(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w])", _I
        ),
        0.7,
        context=_context_either(
            "ph",
            "mob",
            "phone",
            "tel",
            "telephone",
            "mobile",
            "cell",
            "call",
            "fax",
            "desk",
            "whatsapp",
            "text me",
            "sms",
            "reach me",
            "contact",
            "answering",
            "office",
            "dial",
        ),
        before=40,
        after=12,
        validate=digit_count(7, 15),
    ),
    IdentifierRule(
        "phone_shaped",
        "PHONE_NUMBER",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,4}"
            r"|\(\d{2,4}\)\s?\d{3,4}[ .-]\d{3,4}|\d{3}[.-]\d{3}[.-]\d{4})(?:\s?x\d{1,5})?(?![\w])"
        ),
        0.6,
        validate=digit_count(7, 15),
    ),
)

# The core identifier rules plus every DLP detector family (`routing.detectors`): the gate runs them all.
BUILTIN_RULES: tuple[IdentifierRule, ...] = _CORE_RULES + ALL_RULES

_STREET_SUFFIX = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Parkway|Pkwy"
    "|Highway|Hwy|Square|Sq|Crescent|Close|Circle|Cir|Trail|Alley|Row|Walk|Gardens|Grove|Mews|Plaza|Forges"
    "|Heights|Loop|Glen|Quay|Wharf|Ridge|Crossing|Junction"
)
_LOWER_SUFFIX = "street|avenue|road|lane|boulevard|terrace|crescent"
# Street words that come before the name, with their written abbreviations ("C/ Mayor 12",
# "Avda. de la Paz 3", "Pº de Gracia 8", "R. das Flores 5" are how Spanish and Portuguese
# addresses are written; "c/" is "calle").
_STREET_PREFIX = (
    r"via|viale|rue|rua|calle|avenida|avenue|av\.|avda\.?|piazza|plaza|pza\.|praça|largo|chemin|boulevard"
    r"|carrer|ulica|ul\.|strada|travessa|estrada|rambla|paseo|camino|allée|quai|place|c/|cl\.|pº|p\.º"
)
_COMPOUND_SUFFIX = (
    r"straße|strasse|str\.|gasse|weg|allee|platz|ring|damm|katu|tie|kuja|polku|vej|gade|gatan|vägen|väg|veien"
    r"|vegen|laan|straat|gracht|utca|út|útja|tér|köz|sétány|rakpart|ulica|sokak|caddesi"
)
_UNIT = r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Room)\s*#?\s*\d{1,5}[A-Za-z]?"

ADDRESS_RULES: tuple[IdentifierRule, ...] = (
    IdentifierRule(
        "street_number_first",
        "STREET_ADDRESS",
        re.compile(
            rf"(?<![\w-])\d{{1,6}}[A-Za-z]?,?\s+(?:(?:[A-Z][\w'.-]*\s+){{1,4}}(?:{_STREET_SUFFIX})\b\.?"
            rf"|(?:[a-z][\w'.-]*\s+){{1,3}}(?:{_LOWER_SUFFIX})\b)(?:,?\s+{_UNIT})?"
        ),
        0.7,
    ),
    IdentifierRule(
        "street_name_first",
        "STREET_ADDRESS",
        re.compile(
            rf"(?<![\w-])(?:\d{{1,6}}\s+)?(?:{_STREET_PREFIX})\s+(?:[\w'.-]+\s+){{0,4}}?\d{{1,5}}[A-Za-z]?(?![\w-])"
            rf"(?:,?\s+{_UNIT})?",
            _I,
        ),
        0.65,
    ),
    IdentifierRule(
        "street_compound",
        "STREET_ADDRESS",
        re.compile(
            rf"(?<![\w-])(?:\d{{1,6}}\s+)?(?:[\w'-]+\s+){{0,2}}[\w'-]*(?:{_COMPOUND_SUFFIX})\s+\d{{1,5}}[A-Za-z]?\.?"
            rf"(?![\w-])(?:,?\s+{_UNIT})?",
            _I,
        ),
        0.65,
    ),
    IdentifierRule("address_unit", "STREET_ADDRESS", re.compile(rf"(?<![\w-]){_UNIT}(?![\w-])"), 0.55),
    IdentifierRule(
        "po_box",
        "STREET_ADDRESS",
        re.compile(
            # US military mail, in any case ("uscgc aslakhanov / fpo ae 44941" is written too); a
            # ship in lower case only above its FPO line ("the uss enterprise" is a TV ship).
            r"(?<![\w-])(?:(?i:(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{3,5}|(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5})"
            r"|P\.?\s?O\.?\s+Box\s+\d{1,6}|(?:USNS|USS|USNV|USCGC)\s+[A-Z][a-z]+"
            r"|(?i:(?:usns|uss|usnv|uscgc)\s+[^\W\d_]+(?=\s+(?:apo|fpo|dpo)\s+a[aep]\s+\d{5})))(?![\w-])"
        ),
        0.7,
    ),
    IdentifierRule(
        "postal_code",
        "STREET_ADDRESS",
        re.compile(r"(?<![\w-])\d{5}(?:-\d{4})?(?![\w-])"),
        0.55,
        context=re.compile(
            rf"(?:\b(?:{_STREET_SUFFIX})\b|{_UNIT}"
            r"|\b(?:address|lives at|live in|box|ship to|mail to)\b|,\s*[A-Z]{2}\b)",
            _I,
        ),
        before=80,
        after=0,
    ),
)

# Names stay on one line: "Name: Abby Laidlaw\nAddress: ..." must not take "Address".
_NAME = r"[A-Z][a-zà-ÿ'-]+(?:[ \t]+[A-Z]\.?(?=[ \t]))?(?:[ \t]+[A-Z][a-zà-ÿ'-]+){0,2}"
PERSON_RULES: tuple[IdentifierRule, ...] = (
    # Names spaCy's small model misses when the sentence says plainly that a name follows.
    IdentifierRule(
        "person_cue",
        "PERSON",
        re.compile(
            rf"(?:(?i:my name is|name is|name:|call me|calls me|called|named|dear|signed|regards,)\s+"
            rf"|(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+|(?i:ms|mr|mrs)\.\s+)(?P<value>{_NAME})"
        ),
        0.7,
    ),
)


def custom_rules(recognizers: Sequence[CustomRecognizer]) -> tuple[IdentifierRule, ...]:
    """Compile the policy's organisation-specific recognizers into rules."""
    rules = []
    for spec in recognizers:
        flags = 0 if spec.case_sensitive else _I
        if spec.regex is not None:
            pattern = re.compile(spec.regex, flags)
        else:
            terms = "|".join(re.escape(term) for term in sorted(spec.deny_list, key=len, reverse=True))
            pattern = re.compile(rf"(?<!\w)(?:{terms})(?!\w)", flags)
        context = _context(*(re.escape(word) for word in spec.context)) if spec.context else None
        rules.append(
            IdentifierRule(
                f"custom:{spec.name}",
                spec.entity,
                pattern,
                spec.score,
                context=context,
                before=spec.context_window,
                after=spec.context_window,
            )
        )
    return tuple(rules)


def find_identifiers(text: str, rules: Sequence[IdentifierRule]) -> list[Finding]:
    findings: list[Finding] = []
    matches: MatchCache = {}
    for rule in rules:
        findings.extend(rule.find(text, matches))
    findings.extend(find_ibans(text))
    return findings


_IBAN_CANDIDATE = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,32}", _I)


def find_ibans(text: str) -> Iterator[Finding]:
    """IBANs with a valid checksum, trimmed to the longest prefix that validates."""
    for match in _IBAN_CANDIDATE.finditer(text):
        candidate = match.group()
        for end in range(len(candidate), 14, -1):
            if candidate[end - 1].isalnum() and iban_valid(candidate[:end]):
                yield Finding("IBAN_CODE", match.start(), match.start() + end, 0.95, "iban_checksum")
                break
