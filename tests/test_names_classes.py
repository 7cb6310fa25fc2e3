"""Name and address classes the gate missed, and words the models mistook for names (issue 12).

Each class has direct forms, odd forms and near-miss negatives, all written here (none copied from
an evaluation set). Unit tests drive the pure functions with hand-made findings and tokens and the
installed gazetteer; the last tests run the real gate (Presidio + spaCy + Rampart).
"""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate, build_gate
from routing.names import (
    NameToken,
    context_names,
    default_gazetteer,
    find_names,
    given_names_called_places,
    refine_person_findings,
)
from routing.recognizers import ADDRESS_RULES, Finding, find_identifiers
from routing.settings import RoutingSettings
from routing.tiers import Tier


def _place(text: str, word: str, recognizer: str = "SpacyRecognizer") -> Finding:
    start = text.index(word)
    return Finding("LOCATION", start, start + len(word), 0.85, recognizer)


def _person(text: str, words: str, score: float = 0.85) -> Finding:
    start = text.index(words)
    return Finding("PERSON", start, start + len(words), score, "SpacyRecognizer")


def _persons(text: str, findings: list[Finding]) -> set[str]:
    return {
        text[f.start : f.end] for f in refine_person_findings(text, findings) if f.entity_type == "PERSON"
    }


# ---- A given name that spaCy calls a place -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Nobody could tell whether Sigrun had signed it.", "Sigrun"),
        ("The true gender of Mette is debated.", "Mette"),
        ("Ask Dagny about the keys", "Dagny"),
    ],
)
def test_a_given_name_read_as_a_place_is_a_person_too(text: str, word: str) -> None:
    found = given_names_called_places(text, [_place(text, word)], default_gazetteer())
    assert [text[f.start : f.end] for f in found] == [word]


@pytest.mark.parametrize(
    ("text", "word", "recognizer"),
    [
        ("The conference moved from Vienna to Florence this year.", "Florence", "SpacyRecognizer"),
        ("Jordan has a new visa rule.", "Jordan", "SpacyRecognizer"),  # a given name and a country
        ("Prices in Estonia went up.", "Estonia", "SpacyRecognizer"),  # not a given name
        ("Our depot in Inger was closed.", "Inger", "SpacyRecognizer"),  # after "in": a place
        ("Inger is where the depot is.", "Inger", "rampart"),  # the token classifier read a place
    ],
)
def test_places_keep_their_place_reading(text: str, word: str, recognizer: str) -> None:
    findings = [_place(text, word, recognizer)]
    assert given_names_called_places(text, findings, default_gazetteer()) == []


# ---- A lower-case given name that the tagger calls a proper noun ---------------------------


def _token(text: str, word: str, pos: str) -> NameToken:
    start = text.index(word)
    return NameToken(word, start, start + len(word), pos)


def test_a_lower_case_world_given_name_tagged_proper_noun_is_a_name() -> None:
    text = "i think sigrun already paid"
    found = find_names(text, [_token(text, "sigrun", "PROPN")], default_gazetteer())
    assert [text[f.start : f.end] for f in found] == ["sigrun"]


@pytest.mark.parametrize(
    ("text", "word", "pos"),
    [
        ("i think sigrun already paid", "sigrun", ""),  # not tagged a proper noun
        ("ask don about the invoice", "don", "PROPN"),  # a census name that is an English word
        ("we flew over jordan", "jordan", "PROPN"),  # a given name that is a place too
        ("the report is due", "report", "PROPN"),  # no name at all
    ],
)
def test_lower_case_words_that_are_not_names_stay_unmarked(text: str, word: str, pos: str) -> None:
    assert find_names(text, [_token(text, word, pos)], default_gazetteer()) == []


# ---- Courtesy words, instruction verbs and code names are not people -----------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Please send the timesheet reminder Cheers.", "Cheers"),
        ("Perfect, thank you.", "Perfect"),
        ("Thanks! Say goodbye.", "goodbye"),
        ("Summarise how the pension scheme works", "Summarise"),
        ("Hey team, Explain why the build failed", "Explain"),
        ("Project Asthma is the code name for the sensor", "Project Asthma"),
        ("The Lupus team's demo is at three", "Lupus"),
        ("Release notes for the Kestrel squad", "Kestrel"),
    ],
)
def test_words_the_models_mistake_for_names_are_dropped(text: str, words: str) -> None:
    assert _persons(text, [_person(text, words)]) == set()


@pytest.mark.parametrize(
    ("text", "words", "kept"),
    [
        ("Cheers, Tomasz Wiśniewski", "Tomasz Wiśniewski", "Tomasz Wiśniewski"),
        ("Slide 4: D1234567, Jonas Petraitis Cheers.", "Jonas Petraitis Cheers", "Jonas Petraitis"),
        ("The Priya team's demo is at three", "Priya", "Priya"),  # a known given name stays
        ("Project Kowalski is named after her", "Project Kowalski", "Project Kowalski"),
        ("Explain why Marek Nowak was promoted", "Marek Nowak", "Marek Nowak"),
    ],
)
def test_names_next_to_those_words_are_kept(text: str, words: str, kept: str) -> None:
    assert kept in _persons(text, [_person(text, words)])


# ---- Address forms: Spanish and Hungarian street words, military mail in any case ----------


def _addresses(text: str) -> set[str]:
    return {text[f.start : f.end] for f in find_identifiers(text, ADDRESS_RULES)}


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Envíelo a C/ Mayor Alta 14, por favor", "C/ Mayor Alta 14"),
        ("Our office is at Avda. de la Constitución 21, Sevilla", "Avda. de la Constitución 21"),
        ("She lives at Kossuth Lajos útja 7. now", "Kossuth Lajos útja 7."),
        ("the shop on Pipacs köz 3 closed", "Pipacs köz 3"),
        ("send it to uscgc kestrel\nfpo ae 09612", "uscgc kestrel"),
        ("send it to uscgc kestrel\nfpo ae 09612", "fpo ae 09612"),
        ("USNS Bravo, FPO AP 96540", "USNS Bravo"),
    ],
)
def test_street_forms_are_addresses(text: str, address: str) -> None:
    # A span may take a word more before the street ("on Pipacs köz 3"): covering more is safe.
    assert any(address in found for found in _addresses(text))


@pytest.mark.parametrize(
    "text",
    [
        "Use c/ to mark the column in the template",
        "the uss enterprise is a ship from star trek",
        "Apo ae is not a code we use",
        "what does the fpo field mean?",
    ],
)
def test_look_alikes_are_not_addresses(text: str) -> None:
    assert _addresses(text) == set()


# ---- The real gate ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gate() -> SensitivityGate:
    return build_gate(RoutingSettings())


@pytest.mark.parametrize(
    "text",
    [
        "I'm writing about my neighbour at Avda. de la Constitución 21, Sevilla",
        "Please forward my statement to usns kestrel\nfpo ap 96540",
    ],
)
def test_the_gate_masks_these_addresses(gate: SensitivityGate, text: str) -> None:
    assert gate.classify(text).tier is not Tier.PUBLIC


@pytest.mark.parametrize(
    "text",
    [
        "One more thing: write a polite reminder about the timesheet deadline Cheers.",
        "Summarise how the mortgage advice service works for employees",
        "Project Asthma is the code name for the new air-quality sensor",
    ],
)
def test_the_gate_leaves_these_near_misses_public(gate: SensitivityGate, text: str) -> None:
    decision = gate.classify(text)
    assert not [e for e in decision.entities if e.type == "PERSON"]


# ---- Lower-case full names with a given name of the world lists ------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("the sigrun k olsen recording sold a million", "sigrun k olsen"),
        ("ask sigrun olsen about it", "sigrun olsen"),
        ("mette virtanen signed the form", "mette virtanen"),  # a world surname: no initial needed
    ],
)
def test_lower_case_full_names_with_a_world_given_name(text: str, name: str) -> None:
    found = {text[f.start : f.end] for f in context_names(text, default_gazetteer())}
    assert name in found


@pytest.mark.parametrize(
    "text",
    [
        "the charity bake sale is on friday",  # census given name after an article: a noun phrase
        "sigrun said the report is late",  # a world given name, no surname after it
    ],
)
def test_lower_case_pairs_that_are_not_full_names(text: str) -> None:
    assert context_names(text, default_gazetteer()) == []


# ---- Interjections that open a clause ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word", "kind"),
    [
        ("Hey team, Nice, that works.", "Nice", "PERSON"),
        ("Hey team, Nice, that works.", "Nice", "LOCATION"),
        ("Hmm, that doesn't look right.", "Hmm", "PERSON"),
        ("Oops! Wrong file.", "Oops", "PERSON"),
    ],
)
def test_an_interjection_opening_a_clause_is_no_name_or_place(text: str, word: str, kind: str) -> None:
    start = text.index(word)
    finding = Finding(kind, start, start + len(word), 0.85, "SpacyRecognizer")
    assert [
        f for f in refine_person_findings(text, [finding]) if f.entity_type in ("PERSON", "LOCATION")
    ] == []


@pytest.mark.parametrize(
    ("text", "word"),
    [("I moved to Nice last year.", "Nice"), ("Nice is where my sister lives.", "Nice")],
)
def test_the_same_word_elsewhere_stays_a_place(text: str, word: str) -> None:
    start = text.index(word)
    finding = Finding("LOCATION", start, start + len(word), 0.85, "SpacyRecognizer")
    kept = refine_person_findings(text, [finding])
    assert [text[f.start : f.end] for f in kept] == [word]
