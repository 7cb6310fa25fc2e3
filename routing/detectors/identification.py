"""Government and employer identifiers: SSN (with fuzzy context), national IDs of the major countries,
passport, driver licence, tax IDs, visa and residence permits, voter and employee IDs, and vehicle
plates and VINs.

Shapes distinctive enough to be an ID on their own (UK National Insurance, Italian codice fiscale,
Brazilian CPF, Spanish NIE, Indian PAN) count without context; anything else counts next to its
context words, which may be abbreviated or misspelt ("passprt nmbr", "scl scrty"). Documentation
samples made of one repeated digit ("000-00-0000") are not anyone's identifier.
"""

from __future__ import annotations

import re

from routing.detectors.base import IGNORE_CASE, IdentifierRule, context_id_rules, not_one_digit
from routing.detectors.fuzzy import fuzzy

_SSN_WORDS = fuzzy("social security", "social security number", "ssn", "soc sec", "ss number", "social sec")
_NATIONAL_WORDS = fuzzy(
    "national id",
    "national identity",
    "national identification",
    "national number",
    "id number",
    "identity number",
    "identity card",
    "id card",
    "citizen id",
    "citizen number",
    "personal number",
    "personal id",
    "personal identification number",
    "resident id",
    "residence id",
    "social insurance",
    "social insurance number",
    "sin",
    "nin",
    "national insurance",
    "aadhaar",
    "aadhar",
    "uid number",
    "insee",
    "securite sociale",
    "numero de securite sociale",
    "carte vitale",
    "personalausweis",
    "ausweis",
    "ausweisnummer",
    "identity document",
    "dni",
    "nie",
    "codice fiscale",
    "carta d'identita",
    "bsn",
    "burgerservicenummer",
    "cpf",
    "rg",
    "hukou",
    "resident identity",
    "shenfenzheng",
    "curp",
    "rut",
    "pesel",
    "nric",
    "cedula",
    "personnummer",
    "henkilotunnus",
    "cnp",
    "emirates id",
    "medicare number",
    "health card",
    "nhs number",
    "nhs no",
    "national health number",
    "health number",
    "health insurance number",
    "ehic",
    "id no",
)
_TAX_WORDS = fuzzy(
    "tax id",
    "tax number",
    "taxpayer id",
    "taxpayer number",
    "tax identification",
    "tin",
    "ein",
    "itin",
    "vat number",
    "vat id",
    "tax reference",
    "utr",
    "steuer id",
    "steuernummer",
    "steuerid",
    "steuer identifikationsnummer",
    "tax file number",
    "tfn",
    "nif",
    "pan",
    "pan card",
    "pan number",
    "gst number",
    "gstin",
    "abn",
)
_PASSPORT_WORDS = fuzzy("passport", "passport number", "passport no", "travel document", "passport id")
_LICENCE_WORDS = fuzzy(
    "driver license",
    "drivers license",
    "driver licence",
    "driving licence",
    "driving license",
    "licence number",
    "license number",
    "licence no",
    "license no",
    "dl",
    "dl number",
    "permis de conduire",
    "fuhrerschein",
    "driver lic",
    "drivers lic",
    "driving lic",
    "lic no",
    "lic number",
)
_VISA_WORDS = fuzzy(
    "visa number",
    "visa no",
    "visa id",
    "visa grant",
    "visa control number",
    "green card",
    "alien number",
    "alien registration",
    "uscis number",
    "residence permit",
    "work permit",
    "permit number",
    "brp number",
    "immigration number",
    "i94",
    "ead number",
)
_VOTER_WORDS = fuzzy(
    "voter id", "voter number", "voter registration", "electoral roll", "epic number", "voter card"
)
_VEHICLE_WORDS = fuzzy(
    "license plate",
    "licence plate",
    "number plate",
    "registration plate",
    "plate number",
    "reg number",
    "registration number",
    "vin",
    "vehicle identification number",
    "chassis number",
    "car reg",
)
_PARTIAL_WORDS = fuzzy(
    "ssn",
    "social security",
    "social",
    "card",
    "account",
    "acct",
    "visa",
    "mastercard",
    "amex",
    "id",
    "passport",
)
_STUDENT_WORDS = fuzzy(
    "student id",
    "student number",
    "student no",
    "matriculation number",
    "enrolment number",
    "enrollment number",
    "library card",
    "school id",
    "pupil number",
    "candidate number",
)
_EMPLOYEE_WORDS = fuzzy(
    "employee id",
    "employee number",
    "employee no",
    "staff id",
    "staff number",
    "badge number",
    "badge id",
    "payroll number",
    "payroll id",
    "personnel number",
    "works number",
    "worker id",
)


def _shape(name: str, entity: str, pattern: str, score: float, context: object = None) -> IdentifierRule:
    return IdentifierRule(
        name,
        entity,
        re.compile(pattern),
        score,
        context=_NATIONAL_WORDS if context is None else context,  # type: ignore[arg-type]
        context_score=0.95,
        require_context=False,
        before=48,
        after=0,
        validate=not_one_digit,
    )


RULES: tuple[IdentifierRule, ...] = (
    IdentifierRule(
        "ssn_fuzzy_context",
        "US_SSN",
        re.compile(r"(?<![\w-])(?P<value>\d{3}\s?[-. ]?\s?\d{2}\s?[-. ]?\s?\d{4})(?![\w-])"),
        0.9,
        context=_SSN_WORDS,
        before=48,
        after=0,
        validate=not_one_digit,
    ),
    _shape(
        "uk_national_insurance",
        "NATIONAL_ID",
        r"(?<![\w])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D](?![\w])",
        0.8,
    ),
    _shape(
        "italian_codice_fiscale",
        "NATIONAL_ID",
        r"(?<![\w])[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z](?![\w])",
        0.85,
    ),
    _shape("brazilian_cpf", "NATIONAL_ID", r"(?<![\w.-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w-])", 0.85),
    _shape("spanish_nie", "NATIONAL_ID", r"(?<![\w-])[XYZ]-?\d{7}-?[A-Z](?![\w-])", 0.75),
    _shape("indian_pan", "TAX_ID", r"(?<![\w])[A-Z]{3}[ABCFGHLJPT][A-Z]\d{4}[A-Z](?![\w])", 0.7, _TAX_WORDS),
    _shape("chinese_resident_id", "NATIONAL_ID", r"(?<![\w])\d{17}[Xx](?![\w])", 0.8),
    *context_id_rules("national_id", "NATIONAL_ID", _NATIONAL_WORDS, score=0.9, min_digits=5, before=48),
    *context_id_rules("tax_id", "TAX_ID", _TAX_WORDS, score=0.9, min_digits=5, before=40),
    *context_id_rules("passport_fuzzy", "PASSPORT", _PASSPORT_WORDS, score=0.9, min_digits=4, before=40),
    *context_id_rules("driver_licence_fuzzy", "DRIVER_LICENSE", _LICENCE_WORDS, score=0.85, min_digits=4),
    *context_id_rules("visa_permit", "VISA_NUMBER", _VISA_WORDS, score=0.85, min_digits=4),
    *context_id_rules("voter_id", "VOTER_ID", _VOTER_WORDS, score=0.85, min_digits=3),
    *context_id_rules("employee_id", "EMPLOYEE_ID", _EMPLOYEE_WORDS, score=0.85, min_digits=3),
    *context_id_rules("student_id", "STUDENT_ID", _STUDENT_WORDS, score=0.85, min_digits=3),
    *context_id_rules("vehicle_id", "VEHICLE_ID", _VEHICLE_WORDS, score=0.85, min_digits=1, before=32),
    IdentifierRule(
        "partial_identifier",
        "PARTIAL_IDENTIFIER",
        # "SSN ending 4471", "card ends in 0093", "last four of my account are 2210".
        re.compile(
            r"(?:\bends?\s+(?:in|with)|\bending(?:\s+in|\s+with)?"
            r"|\blast\s+(?:4|four)(?:\s+digits)?(?:\s+of\s+\w+(?:\s+\w+)?)?(?:\s+(?:are|is|were))?\s*:?)"
            r"\s*(?P<value>\d{4})(?!\d)",
            IGNORE_CASE,
        ),
        0.8,
        context=_PARTIAL_WORDS,
        before=48,
        after=0,
    ),
    IdentifierRule(
        "passport_letters_digits",
        "PASSPORT",
        re.compile(r"(?<![\w-])(?P<value>[A-Z]{1,2}\d{6,9})(?![\w-])", IGNORE_CASE),
        0.9,
        context=_PASSPORT_WORDS,
        before=40,
        after=0,
    ),
)
