"""Person names beyond spaCy's small model: the census gazetteer, capitalisation, repeated mentions.

Unit tests drive `find_names` with hand-made tokens and a tiny gazetteer; integration tests run the
real gate (Presidio + spaCy + the gazetteer read from the installed `names` package).
"""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate, build_gate
from routing.names import NameGazetteer, NameToken, default_gazetteer, find_names, refine_person_findings
from routing.recognizers import Finding
from routing.settings import RoutingSettings
from routing.tiers import Tier

_GAZETTEER = NameGazetteer(
    given=["margaret", "mary", "will", "may", "megan"],
    surnames=["thornbury", "smith", "young", "hill"],
    stop_words=["in", "to", "the", "you", "me"],
)


def _tokens(
    text: str, pos: dict[str, str] | None = None, ents: dict[str, str] | None = None
) -> list[NameToken]:
    tokens, index = [], 0
    for word in text.replace(".", " . ").replace(",", " , ").split():
        start = text.index(word, index)
        index = start + len(word)
        tokens.append(
            NameToken(word, start, index, (pos or {}).get(word, "PROPN"), (ents or {}).get(word, ""))
        )
    return tokens


def _names(text: str, **kwargs: dict[str, str]) -> list[str]:
    return [text[f.start : f.end] for f in find_names(text, _tokens(text, **kwargs), _GAZETTEER)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write a greeting for Margaret Thornbury", ["Margaret Thornbury"]),
        ("Have you been to a Ravil G. Yefimov concert", ["Ravil G. Yefimov"]),
        ("It was sung by Bonifacy Smith in 1977", ["Bonifacy Smith"]),
        ("Please add Megan to the invite", ["Megan"]),
        ("Willemine ten Pas and Margaret Young will talk", ["Margaret Young"]),
    ],
)
def test_names_it_must_catch(text: str, expected: list[str]) -> None:
    assert _names(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Will you send it in May",  # given names that are ordinary words
        "In United States they sing",  # stop word, then no gazetteer evidence
        "Meet me at 14 Margaret Smith Street",  # a street named after a person
        "The Margaret Smith Orchestra plays",  # an organisation
        "Smith said so",  # a lone surname is no evidence
    ],
)
def test_common_words_streets_and_companies_are_not_names(text: str) -> None:
    assert _names(text) == []


def test_a_name_does_not_run_across_a_line_break() -> None:
    assert _names("Margaret\nSmith Jones") == ["Margaret"]


def test_a_place_label_or_a_non_proper_noun_is_not_a_lone_name() -> None:
    assert _names("We flew to Megan", ents={"Megan": "GPE"}) == []
    assert _names("Please megan the report", pos={"megan": "VERB"}) == []


def test_repeated_mentions_and_address_parts() -> None:
    text = "Faina Yefremova wrote it; early Yefremova is best. Meet at 12 Glyn Street."
    findings = [
        Finding("PERSON", 0, 15, 0.85, "spacy"),
        Finding("PERSON", 62, 66, 0.85, "spacy"),  # "Glyn" inside the address
        Finding("STREET_ADDRESS", 59, 73, 0.7, "street"),
    ]
    refined = refine_person_findings(text, findings)
    persons = sorted(text[f.start : f.end] for f in refined if f.entity_type == "PERSON")
    assert persons == ["Faina Yefremova", "Yefremova"]


def test_gazetteer_is_read_from_the_installed_package() -> None:
    gazetteer = default_gazetteer()
    assert gazetteer is default_gazetteer()
    assert gazetteer.is_given("Margaret") and gazetteer.is_surname("Thornbury")
    assert not gazetteer.is_given("Will") and not gazetteer.is_given("May")
    assert len(gazetteer.given) > 4000 and len(gazetteer.surnames) > 30_000


@pytest.fixture(scope="module")
def gate() -> SensitivityGate:
    return build_gate(RoutingSettings())


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Write a greeting for Margaret Thornbury", "Margaret Thornbury"),
        ("Have you been to a Ravil G Yefimov concert before?", "Ravil G Yefimov"),
        ("Zoe Young employs corporate lingo.", "Zoe Young"),
        ("Dreux Joly\nPaxata\nPSC 3294, Box 9168", "Dreux Joly"),
    ],
)
def test_gate_masks_names_spacy_misses(gate: SensitivityGate, text: str, name: str) -> None:
    assert gate.classify(text).tier is Tier.INTERNAL
    assert name in [span.value for span in gate.find_pii(text)]


def test_gate_trims_names_at_line_breaks(gate: SensitivityGate) -> None:
    values = [span.value for span in gate.detect("Name: Abby Laidlaw\nAddress: 12 Main Street").spans]
    assert "Abby Laidlaw" in values
    assert not any("Address" in value for value in values)


@pytest.mark.parametrize(
    "text",
    [
        "Will you send the report in May?",
        "In United States they have company songs.",
        "The European Union treaty was signed.",
        "Entertainment Weekly ranked the song first.",
        "What is the capital of France?",
    ],
)
def test_gate_keeps_ordinary_sentences_public(gate: SensitivityGate, text: str) -> None:
    assert gate.classify(text).tier is Tier.PUBLIC
