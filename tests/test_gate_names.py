"""Person names beyond spaCy's small model: the census gazetteer, capitalisation, repeated mentions.

Unit tests drive `find_names` with hand-made tokens and a tiny gazetteer; integration tests run the
real gate (Presidio + spaCy + the gazetteer read from the installed `names` package).
"""

from __future__ import annotations

import pytest

from routing.gate import SensitivityGate, build_gate
from routing.names import (
    NameGazetteer,
    NameToken,
    context_names,
    default_gazetteer,
    find_names,
    joined_names,
    listed_with_names,
    refine_person_findings,
)
from routing.places import PERSONAL_LOCATION, merge_address_blocks, personal_places
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


# ---- Names from context, non-US given names, lists; places in context (routing.places) -------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my name is priya ramanathan and I need a badge", ["priya ramanathan"]),
        ("Dear Ms. Okafor, thank you", ["Okafor"]),
        ("Mr. Leiva flew in on Tuesday", ["Leiva"]),
        ("please forward it to Ana Silva tomorrow", ["Ana Silva"]),
        ("hi maria, the form is attached", ["maria"]),
        ("follow up with benjamin a seiler next month", ["benjamin a seiler"]),
    ],
)
def test_names_found_from_their_context(text: str, expected: list[str]) -> None:
    found = {text[f.start : f.end] for f in context_names(text, default_gazetteer())}
    assert set(expected) <= found


@pytest.mark.parametrize(
    "text",
    [
        "I want to go to the store with my dog",
        "Thanks for the help, this is great",
        "I am happy to help you with that",
        "Send the file to Paris by Friday",  # "to" + a place, not a full name
        "Hello World, this is a test",
    ],
)
def test_context_phrases_without_a_name_find_nothing(text: str) -> None:
    assert context_names(text, default_gazetteer()) == []


def test_world_given_names_extend_the_census_lists() -> None:
    gazetteer = default_gazetteer()
    assert all(gazetteer.is_given(name) for name in ("Olusegun", "Siobhan", "Wojciech", "Haruto", "Aoife"))


def test_the_other_items_of_a_list_with_a_name_are_names() -> None:
    text = "Our founders: Eklund, Michael and Hodge."
    listed = listed_with_names(text, [Finding("PERSON", 14, 20, 0.8, "spacy")])
    assert sorted(text[f.start : f.end] for f in listed) == ["Hodge", "Michael"]
    assert listed_with_names("Apples, Pears and Plums", []) == []


def test_address_pieces_join_into_one_block() -> None:
    text = "It arrived at 760 Passauer Strasse 33, Cite Guedouala, Tunisia last night."
    findings = [
        Finding("STREET_ADDRESS", 14, 37, 0.9, "rampart"),
        Finding("LOCATION", 44, 62, 0.8, "spacy"),
    ]
    blocks = [f for f in merge_address_blocks(text, findings) if f.recognizer == "address_block"]
    assert [text[f.start : f.end] for f in blocks] == ["760 Passauer Strasse 33, Cite Guedouala, Tunisia"]


def test_an_intersection_and_a_street_name_before_its_number_belong_to_the_address() -> None:
    text = "Meet at the corner of Storgarden 52 and Elm"
    findings = [Finding("STREET_ADDRESS", 33, 43, 0.9, "rampart")]
    (block,) = [f for f in merge_address_blocks(text, findings) if f.recognizer == "address_block"]
    assert text[block.start : block.end] == "the corner of Storgarden 52 and Elm"


def test_an_address_does_not_swallow_the_surname_before_it() -> None:
    text = "Marisa Bisliev\n583 Magrethevej 298"
    findings = [Finding("PERSON", 0, 14, 0.9, "rampart"), Finding("STREET_ADDRESS", 7, 34, 0.9, "rampart")]
    addresses = [f for f in merge_address_blocks(text, findings) if f.entity_type == "STREET_ADDRESS"]
    assert [text[f.start : f.end] for f in addresses] == ["583 Magrethevej 298"]


def test_a_place_is_personal_next_to_a_person_or_when_it_is_the_writers() -> None:
    place = Finding("LOCATION", 20, 26, 0.9, "spacy")
    with_name = personal_places("Ana Silva moved to  Lisbon", [Finding("PERSON", 0, 9, 0.9, "x"), place])
    assert [f.entity_type for f in with_name] == ["PERSON", PERSONAL_LOCATION]
    assert (
        personal_places("I'm originally from Norway", [Finding("LOCATION", 20, 26, 0.9, "x")])[0].entity_type
        == PERSONAL_LOCATION
    )
    assert (
        personal_places("Flights to Lisbon are cheap", [Finding("LOCATION", 11, 17, 0.9, "x")])[0].entity_type
        == "LOCATION"
    )


def test_gate_pseudonymizes_a_place_only_in_personal_context(gate: SensitivityGate) -> None:
    assert gate.classify("What is the capital of France?").tier is Tier.PUBLIC
    text = "Please send Olusegun Adeyemi's badge to our office in Lagos."
    values = [span.value for span in gate.find_pii(text)]
    assert gate.classify(text).tier is Tier.INTERNAL
    assert "Lagos" in values and any("Olusegun" in value for value in values)


def test_gate_masks_a_whole_postal_block(gate: SensitivityGate) -> None:
    text = "Ship it to Hanne Berg, 12 Elm Street, Apt 4, Springfield, IL 62704 please"
    values = [span.value for span in gate.find_pii(text)]
    assert "Hanne Berg" in values
    assert any(value.startswith("12 Elm Street") and value.endswith("62704") for value in values)


def test_a_leading_number_on_the_address_line_belongs_to_the_address() -> None:
    text = "Ship to 5551 Tjalling Harkeswei 125, Lippenhuizen"
    findings = [Finding("STREET_ADDRESS", text.index("Tjalling"), len(text), 0.9, "rampart")]
    (block,) = [f for f in merge_address_blocks(text, findings) if f.recognizer == "address_block"]
    assert text[block.start : block.end] == "5551 Tjalling Harkeswei 125, Lippenhuizen"
    plain = "I live at 12 Elm Street"
    assert merge_address_blocks(plain, [Finding("STREET_ADDRESS", 10, 23, 0.9, "x")]) == [
        Finding("STREET_ADDRESS", 10, 23, 0.9, "x")
    ]


def test_overlapping_names_are_masked_as_one() -> None:
    text = "Garcia songwriter Samantha Bašić employs"
    overlapping = [Finding("PERSON", 0, 26, 0.8, "spacy"), Finding("PERSON", 18, 32, 0.8, "rampart")]
    assert [text[f.start : f.end] for f in joined_names(overlapping)] == ["Garcia songwriter Samantha Bašić"]
    assert joined_names([Finding("PERSON", 0, 6, 0.8, "x"), Finding("PERSON", 0, 3, 0.8, "x")]) == []
