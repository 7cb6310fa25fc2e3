"""Contact data the NER misses: relatives' names ("my sister Ana"), emergency contacts, maiden names,
place of birth, and e-mail addresses, also spelled out ("jdoe at gmail dot com"), so the gate
catches them without Presidio too.

Names are reported as PERSON, so they are pseudonymized like any other name. A relation word alone
("my sister is visiting") is not a name: the rules want a capitalised name, or an explicit
"named" / "called" / "name is" before a lower-case one.
"""

from __future__ import annotations

import re

from routing.detectors.base import IGNORE_CASE, IdentifierRule, not_a_common_word
from routing.detectors.fuzzy import fuzzy

_RELATION = (
    r"(?:(?:older|younger|little|big|late|ex|step|twin)[\s-]?)?"
    r"(?:sister|brother|sibling|mother|mom|mum|mommy|mummy|father|dad|daddy|son|daughter|wife|husband|partner"
    r"|spouse|fianc[ée]e?|boyfriend|girlfriend|aunt|auntie|uncle|cousin|niece|nephew|grandma|grandmother"
    r"|granny|grandpa|grandfather|grandson|granddaughter|kid|child|baby|stepson|stepdaughter|stepmother"
    r"|stepfather|mother-in-law|father-in-law|sister-in-law|brother-in-law|guardian|carer|caregiver)s?"
)
_NAME = r"[A-Z][a-zà-ÿ'-]+(?:[ \t]+[A-Z][a-zà-ÿ'-]+)?"
_ANY_NAME = r"[A-Za-zà-ÿ][a-zà-ÿ'-]+(?:[ \t]+[A-Za-zà-ÿ][a-zà-ÿ'-]+)?"
_NOT_NAMES = frozenset(
    [
        "and",
        "or",
        "but",
        "is",
        "was",
        "has",
        "had",
        "who",
        "which",
        "that",
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "to",
        "from",
        "with",
        "for",
        "of",
        "about",
        "because",
        "when",
        "if",
        "so",
        "then",
        "also",
        "just",
        "still",
        "always",
        "never",
    ]
)
_EMERGENCY_WORDS = fuzzy(
    "emergency contact", "next of kin", "in case of emergency", "ice contact", "emergency number"
)


_TLDS = frozenset(
    {
        "com", "org", "net", "edu", "gov", "io", "co", "uk", "de", "fr", "es", "it", "nl", "be", "ch", "at",
        "se", "no", "dk", "fi", "pl", "pt", "ie", "ca", "au", "nz", "in", "br", "mx", "jp", "cn", "ru",
        "info", "biz", "me", "app", "dev", "mail", "email",
    }
)  # fmt: skip


def _name_like(value: str) -> bool:
    first = value.split()[0].casefold()
    return first not in _NOT_NAMES and not_a_common_word(first)


RULES: tuple[IdentifierRule, ...] = (
    IdentifierRule(
        "relative_name",
        "PERSON",
        re.compile(
            rf"(?i:\b(?:my|his|her|their|our)\s+{_RELATION})(?:,|\s+is|\s*:)?[ \t]+(?P<value>{_NAME})"
        ),
        0.8,
        validate=_name_like,
    ),
    IdentifierRule(
        "relative_named",
        "PERSON",
        re.compile(
            rf"(?i:\b(?:my|his|her|their|our)\s+{_RELATION}(?:'s\s+name\s+(?:is|was)|\s+(?:named|called|is\s+named)))"
            rf"[ \t]+(?P<value>{_ANY_NAME})"
        ),
        0.85,
        validate=_name_like,
    ),
    IdentifierRule(
        "maiden_name",
        "PERSON",
        re.compile(r"(?i:maiden\s+name)\s*(?:is|was|:|=)?\s+(?P<value>[A-Za-zà-ÿ][\w'-]{1,30})"),
        0.85,
        validate=_name_like,
    ),
    IdentifierRule(
        "emergency_contact",
        "PERSON",
        re.compile(
            rf"(?:\s+(?:is|was)\s+|\s*[:=-]\s*)(?:(?i:my|our)\s+(?i:{_RELATION})[ \t,]+)?(?P<value>{_NAME})"
        ),
        0.85,
        context=_EMERGENCY_WORDS,
        before=40,
        after=0,
        validate=_name_like,
    ),
    IdentifierRule(
        "place_of_birth",
        "PLACE_OF_BIRTH",
        re.compile(
            r"(?i:\b(?:i\s+was|i'm|i\s+am|we\s+were|he\s+was|she\s+was|(?:my|his|her)\s+\w+\s+was)\s+born\s+(?:and\s+raised\s+)?in"
            r"|place\s+of\s+birth\s*(?:is|was|:)?|birth\s*place\s*(?:is|was|:)?|\bpob\s*:|my\s+home\s*town\s+(?:is|was)"
            r"|i\s+grew\s+up\s+in)"
            r"\s+(?P<value>[A-Z][\w'-]+(?:(?:,\s*|\s+)[A-Z][\w'-]+){0,3})"
        ),
        0.8,
    ),
    IdentifierRule(
        "personal_place",
        "PERSONAL_LOCATION",
        # "my son's school is Lincoln Elementary", "our gym: Pure Fitness Leith".
        re.compile(
            r"(?i:\b(?:my|his|her|our|their)\s+(?:[\w-]+'s\s+)?(?:school|college|university|daycare|nursery"
            r"|kindergarten|workplace|office|gym|church|mosque|synagogue|temple|clinic|hospital|doctor's\s+surgery))"
            r"\s*(?:is|was|:)\s+(?P<value>[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){0,4})"
        ),
        0.8,
    ),
    IdentifierRule(
        "email_spelled_out",
        "EMAIL_ADDRESS",
        # "jdoe at gmail dot com", "jdoe [at] gmail [dot] co [dot] uk".
        re.compile(
            r"(?<![\w.])[\w.+-]{2,64}\s*(?:@|[(\[{<]\s*at\s*[)\]}>]|\s+at\s+)\s*[A-Za-z0-9-]{2,63}"
            r"(?:\s*(?:[(\[{<]\s*dot\s*[)\]}>]|\s+dot\s+)\s*[A-Za-z0-9-]{2,24}){1,3}(?![\w])",
            IGNORE_CASE,
        ),
        0.85,
        validate=lambda v: v.lower().rsplit("dot", 1)[-1].strip(" )]}>") in _TLDS,
    ),
    IdentifierRule(
        "email_address",
        "EMAIL_ADDRESS",
        re.compile(
            r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![\w])"
        ),
        0.9,
    ),
)
