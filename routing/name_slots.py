"""A lone capitalised word in a slot only a person fills: names that no list and no model knows.

"Tarvo is so stubborn", "Why is Eilif always this rude?", "Liv, could you send me the slides?":
the word is in no name list, and the models may miss it, but the sentence says it is a person:
the subject of a trait only people have, or the one a request is addressed to at the start of a
message. A thing can be "reliable" too ("Postgres is very reliable"), so a trait that is not a
person's alone counts only with a personal pronoun near it ("... You can depend on him").

What it must never do: read a word the other rules call an ordinary, courtesy, function or
language word as a name, or decide a tier. It reports spans only, like `routing.names`.
"""

from __future__ import annotations

import re

from routing.names import (
    COMMON_WORDS,
    COURTESY_WORDS,
    INTERJECTIONS,
    LANGUAGE_WORDS,
    NameGazetteer,
)
from routing.recognizers import Finding

SLOT_NAME_SCORE = 0.75
RECOGNIZER = "name_slot"

# Traits said of people only (a product is not "stubborn"; "kind of slow" is no trait).
_PERSON_TRAITS = (
    r"impulsive|stubborn|rude|lazy|shy|arrogant|bossy|grumpy|moody|selfish|talkative|impolite|"
    r"unkind|kind(?![ \t]+of\b)|generous|dishonest|trustworthy|hardworking|hard-working|punctual|"
    r"pushy|needy|jealous|nervous|anxious|upset|angry|pregnant|sick|ill|married|divorced|retired|"
    r"unemployed"
)
# Traits of people and things alike: a person's only with a personal pronoun near.
_SHARED_TRAITS = (
    r"reliable|unreliable|dependable|consistent|friendly|polite|honest|helpful|nice|funny|smart|"
    r"clever|brilliant|talented|annoying|happy|sad|late|slow|fast|quick|good|great|bad|busy"
)
_DEGREE = r"(?:(?:very|so|really|always|quite|extremely|too|not|never|this|that|such an?|incredibly)[ \t]+)*"
_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+(?:[-'’][A-Za-zà-öø-ÿ]+)?"
# "<Word> is [very] <trait>" and "Why is <Word> [so] <trait>".
_SUBJECT_TRAIT = re.compile(
    rf"(?<![\w-])({_WORD})[ \t]+(?:is|was|seems|seemed|has been|can be|gets)[ \t]+{_DEGREE}"
    rf"(?:(?P<person>{_PERSON_TRAITS})|(?P<shared>{_SHARED_TRAITS}))\b"
)
_ASKED_TRAIT = re.compile(
    rf"(?i:\b(?:is|was|isn't|wasn't)[ \t]+)({_WORD})[ \t]+{_DEGREE}"
    rf"(?:(?P<person>{_PERSON_TRAITS})|(?P<shared>{_SHARED_TRAITS}))\b"
)
_PRONOUN_NEAR = re.compile(r"(?i)\b(?:he|she|him|her|his|hers|himself|herself)\b")
_PRONOUN_WINDOW = 80
# "Liv, could you ..." at the start of a message or a line: a request addressed to someone.
_ADDRESSED_REQUEST = re.compile(
    rf"(?m)^[ \t]*({_WORD})[ \t]*,[ \t]+(?:can|could|would|will|please|do|did|have|are|pls)\b"
)
# Words that are no one's name in these slots: a request's opening ("Folks, can you ...", "Quick
# question, ..."), and family and work roles ("Dad is sick").
_NOT_NAMES_LIST = """
    mum mom dad mother father brother sister wife husband son daughter grandma grandpa granny uncle
    aunt auntie baby kid kids boss manager teacher doctor nurse
    folks guys everyone everybody all friends colleagues people gang sorry question update note
    reminder quick urgent important help sir madam mate buddy dude honey darling
    actually honestly seriously basically finally first second next now today tomorrow yesterday
    here there also so then otherwise meanwhile instead however and but or yes no maybe
"""
_NOT_NAMES = frozenset(_NOT_NAMES_LIST.split())


def slot_names(text: str, gazetteer: NameGazetteer) -> list[Finding]:
    """Lone capitalised words that a person-only slot marks as names."""
    matches = [*_trait_matches(text), *_ADDRESSED_REQUEST.finditer(text)]
    spans = [m.span(1) for m in matches if _is_name_candidate(m.group(1), gazetteer)]
    return [Finding("PERSON", start, end, SLOT_NAME_SCORE, RECOGNIZER) for start, end in spans]


def _trait_matches(text: str) -> list[re.Match[str]]:
    found = []
    for pattern in (_SUBJECT_TRAIT, _ASKED_TRAIT):
        for match in pattern.finditer(text):
            if match.group("person") or _PRONOUN_NEAR.search(
                text, match.end(), match.end() + _PRONOUN_WINDOW
            ):
                found.append(match)
    return found


def _is_name_candidate(word: str, gazetteer: NameGazetteer) -> bool:
    key = word.casefold()
    return (
        gazetteer.name_shaped(word)
        and key not in COMMON_WORDS
        and key not in COURTESY_WORDS
        and key not in INTERJECTIONS
        and key not in LANGUAGE_WORDS
        and key not in _NOT_NAMES
    )
