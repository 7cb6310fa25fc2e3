"""Places that context makes personal (itinerary, origin, residence, venue; where the writer is
now, where someone lives, moved from or flew to) and general place questions that must stay as
they are (issue 12).

The unit tests drive `routing.place_cues`, `routing.place_gazetteer` and `routing.places` with
sentences written here and hand-made findings; the last tests run the real gate on the dev split of
the authored set `tests/data/places/personal_places.jsonl` (its held-back split is measured by
`bench/bench_places.py`, never tested, so it is not tuned on).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routing.gate import Detection, GateDecision, SensitivityGate, build_gate
from routing.pii_eval import masked_ranges
from routing.place_cues import cued_places, place_word
from routing.place_gazetteer import SpanIndex, find_countries, fold
from routing.places import PERSONAL_LOCATION, merge_address_blocks, personal_places
from routing.policy import load_policy
from routing.recognizers import Finding
from routing.settings import RoutingSettings
from routing.tiers import Route, Tier

DATA = Path(__file__).parent / "data" / "places" / "personal_places.jsonl"


def _cued(text: str, findings: list[Finding] | None = None) -> set[str]:
    return {text[f.start : f.end] for f in cued_places(text, findings or [])}


def _place(text: str, word: str, kind: str = "LOCATION") -> Finding:
    start = text.index(word)
    return Finding(kind, start, start + len(word), 0.85, "SpacyRecognizer")


# ---- Cues: the place after them is someone's, known to NER or not ----------------------------


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("I'm flying to Trondheim tomorrow.", {"Trondheim"}),
        ("We drove back from ŘEVNICE last night.", {"ŘEVNICE"}),
        ("My aunt flew to Ηράκλειο for Easter.", {"Ηράκλειο"}),
        ("Who's flying to Frankfurt am Main with me?", {"Frankfurt am Main"}),
        ("Ms. Dvořák is travelling to Brno and Olomouc.", {"Brno", "Olomouc"}),
        ("I'll be in Bodø until Friday.", {"Bodø"}),
        ("She is originally from Ağrı.", {"Ağrı"}),
        ("originally from ΛΕΜΕΣΟΣ, now in Athens", {"ΛΕΜΕΣΟΣ"}),
        ("We relocated here from Cyprus (Greek) in 1999.", {"Cyprus (Greek)"}),
        ("Their home town: Kuopio", {"Kuopio"}),
        ("My cousin lives in Пермь.", {"Пермь"}),
        ("Lapland was super fun to visit!", {"Lapland"}),
        ("The party is at the Villa Carlotta.", {"Villa Carlotta"}),
    ],
)
def test_a_cue_makes_the_place_after_it_personal(text: str, places: set[str]) -> None:
    assert _cued(text) == places


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "Explain Spain's tax system.",
        "Do I need a visa to travel to Japan?",
        "Can I fly to Rome with a cat?",
        "How many people live in Tokyo?",
        "Flights to Lisbon are cheaper in winter.",
        "Is it safe to travel to Peru?",
        "Which tourists come from Germany most?",
        "Lisbon is lovely to visit in spring.",
        "Is it worth travelling to Italy with US dollars?",
    ],
)
def test_a_general_question_has_no_personal_place(text: str) -> None:
    assert _cued(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "I'm going to HR about my contract.",
        "We are going to Finance on Monday.",
        "I'm coming to the meeting with my laptop.",
        "I went to work late.",
        "She's in Sales now.",
    ],
)
def test_a_department_day_or_common_word_after_a_cue_is_not_a_place(text: str) -> None:
    assert _cued(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "I went to Settings and clicked Save.",
        "Then I go to File and choose Export.",
        "We're moving away from Oracle to Postgres.",
        "I'm interested in Japan's economy.",
        "I visited Confluence but the page was gone.",
        "I spent 3 hours in Outlook.",
        "I'm staying in Slack all day.",
        "They arrived in Production yesterday, the new build.",
        "Our wedding is at Noon on Saturday.",
        "I live in Europe/London time.",
    ],
)
def test_a_screen_vendor_or_topic_after_an_ambiguous_cue_is_not_a_place(text: str) -> None:
    assert _cued(text) == set()


def test_an_ambiguous_cue_still_takes_a_town_in_capitals_or_a_known_place() -> None:
    assert _cued("My sister went back to SKÖVDE.") == {"SKÖVDE"}
    text = "We went to Portugal in May."
    assert _cued(text, [_place(text, "Portugal")]) == {"Portugal"}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Dzhambek is from Civic Impulse LLC.", "Civic Impulse LLC"),
        ("She is from Areavibes Inc", "Areavibes Inc"),
    ],
)
def test_a_company_after_a_cue_is_an_employer_not_a_place(text: str, company: str) -> None:
    person = _place(text, text.split()[0], "PERSON")
    found = [(f.entity_type, text[f.start : f.end]) for f in cued_places(text, [person])]
    assert found == [("EMPLOYER", company)]


def test_a_weak_cue_takes_only_a_place_ner_found() -> None:
    text = "My brother works in Finance and my sister works in Leeds."
    assert _cued(text) == set()
    assert _cued(text, [_place(text, "Leeds")]) == {"Leeds"}


def test_a_person_found_by_ner_anchors_a_cue_in_their_sentence() -> None:
    text = "Anja Weber relocated to Wels."
    assert _cued(text) == set()
    assert _cued(text, [_place(text, "Anja Weber", "PERSON")]) == {"Wels"}


def test_a_venue_line_is_personal_whatever_its_case() -> None:
    text = "When: 2031-02-03 10:00\nWhere: pine hollow country club."
    assert _cued(text) == {"pine hollow country club"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Name: J. Doe\nCity: Kalmar\nCountry: Sweden", {"Kalmar", "Sweden"}),
        ("Itinerary: Oslo → Bergen → Tromsø", {"Oslo → Bergen → Tromsø"}),
        ("destination: porto alegre", {"porto alegre"}),
    ],
)
def test_a_place_field_of_a_form_or_itinerary_is_personal(text: str, value: set[str]) -> None:
    assert _cued(text) == value


@pytest.mark.parametrize("text", ["Where: Zoom", "Location: Teams meeting", "Venue: online (link below)"])
def test_an_online_meeting_is_no_venue(text: str) -> None:
    assert _cued(text) == set()


def test_place_words_are_capitalised_or_of_a_script_without_case() -> None:
    assert place_word("MÖNSTERÅS") and place_word("Κύπρος") and place_word("東京")
    assert (
        not place_word("paris") and not place_word("Monday") and not place_word("IT") and not place_word("A4")
    )


# ---- The country gazetteer: any case, any accent ---------------------------------------------


def test_fold_ignores_case_and_accents() -> None:
    assert fold("MÖNSTERÅS") == fold("Mönsterås") == "monsteras"
    assert fold("ΚΥΠΡΟΣ") == fold("Κύπρος")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Slovenia leader gives an order", {"Slovenia"}),
        ("a trip to the CZECH REPUBLIC", {"CZECH REPUBLIC"}),
        ("Ausflug nach Österreich.", {"Österreich"}),
        ("from ΚΥΠΡΟΣ with love", {"ΚΥΠΡΟΣ"}),
        ("Côte d'Ivoire and Guinea-Bissau", {"Côte d'Ivoire", "Guinea-Bissau"}),
        ("roast turkey and rice from china", set()),
    ],
)
def test_country_names_are_found_in_any_case_and_script(text: str, found: set[str]) -> None:
    assert {text[f.start : f.end] for f in find_countries(text)} == found


def test_a_country_name_already_read_as_a_name_is_left_to_it() -> None:
    text = "Ask Jordan about it"
    assert find_countries(text, [_place(text, "Jordan", "PERSON")]) == []


# ---- personal_places: relabelling, the qualifier, and questions ------------------------------


def test_a_place_next_to_a_person_keeps_its_bracketed_qualifier() -> None:
    text = "Dana Lee said Cyprus (Greek) was next."
    findings = [_place(text, "Dana Lee", "PERSON"), _place(text, "Cyprus")]
    spans = {(f.entity_type, text[f.start : f.end]) for f in personal_places(text, findings)}
    assert ("PERSONAL_LOCATION", "Cyprus (Greek)") in spans


def test_asking_how_one_gets_somewhere_does_not_make_the_place_the_writers() -> None:
    text = "How do I get from the airport to the old town in Prague?"
    kinds = {f.entity_type for f in personal_places(text, [_place(text, "Prague")])}
    assert kinds == {"LOCATION"}


def test_saying_where_one_comes_from_still_does() -> None:
    text = "I come from a small town near Prague."
    kinds = {f.entity_type for f in personal_places(text, [_place(text, "Prague")])}
    assert "PERSONAL_LOCATION" in kinds


# ---- Relabelling a place NER found: where the writer is, where someone lives or flew to --------


def _label(text: str, place: str) -> str:
    """PERSONAL_LOCATION when any finding over the place is one, else LOCATION."""
    start = text.index(place)
    findings = personal_places(text, [Finding("LOCATION", start, start + len(place), 0.9, "test")])
    kinds = {f.entity_type for f in findings if f.start <= start and start + len(place) <= f.end}
    return PERSONAL_LOCATION if PERSONAL_LOCATION in kinds else "LOCATION"


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("I'm in Hernani, at the conference", "Hernani"),
        ("She moved here from Iceland", "Iceland"),
        ("my friend lives in harburg", "harburg"),
        ("He flew to Suurkula on Thursday", "Suurkula"),
        ("Our manager is from Tartu", "Tartu"),
        # A past visit, told (the session-4 version of this file had it as a place about no one).
        ("France was super fun to visit!", "France"),
    ],
)
def test_a_persons_place_is_personal(text: str, place: str) -> None:
    assert _label(text, place) == PERSONAL_LOCATION


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Spain leader gives order", "Spain"),
        ("The orchestra serves Southern Hungary", "Hungary"),
        ("What is the capital of Estonia?", "Estonia"),
        ("The new office in Lisbon opens in May", "Lisbon"),
    ],
)
def test_a_place_about_no_one_stays_a_place(text: str, place: str) -> None:
    assert _label(text, place) == "LOCATION"


# ---- The real gate on the authored dev split -------------------------------------------------


def _rows(kind: str) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r["split"] == "dev" and r["kind"] == kind]


@pytest.fixture(scope="module")
def gate() -> SensitivityGate:
    return build_gate(RoutingSettings())


def _masked(text: str, value: str, detection: Detection, gate: SensitivityGate) -> bool:
    if detection.decision.tier is Tier.REGULATED:
        return True
    if detection.decision.route is not Route.HOSTED_PSEUDONYMIZED:
        return False
    wanted = gate.policy.pseudonymized_types()
    ranges = masked_ranges(text, [s for s in detection.spans if s.type in wanted])
    start = text.index(value)
    return all(
        any(a <= i < b for a, b in ranges) for i in range(start, start + len(value)) if text[i].isalnum()
    )


def test_the_authored_set_has_both_sides_and_a_held_back_split() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    for split in ("dev", "heldback"):
        for kind in ("personal", "near_miss"):
            assert sum(r["split"] == split and r["kind"] == kind for r in rows) >= 25
    assert all(p in r["text"] for r in rows for p in r["places"])


@pytest.mark.parametrize("row", _rows("personal"), ids=lambda r: str(r["text"])[:40])
def test_every_personal_place_of_the_dev_split_is_masked(
    row: dict[str, object], gate: SensitivityGate
) -> None:
    text = str(row["text"])
    detection = gate.detect(text)
    assert all(_masked(text, str(p), detection, gate) for p in row["places"]), detection.spans  # type: ignore[attr-defined]


@pytest.mark.parametrize("row", _rows("near_miss"), ids=lambda r: str(r["text"])[:40])
def test_no_place_of_a_general_question_is_made_personal_by_a_cue_or_the_gazetteer(
    row: dict[str, object], gate: SensitivityGate
) -> None:
    text = str(row["text"])
    spans = gate.detect(text).spans
    mine = [
        s
        for s in spans
        if s.type == "PERSONAL_LOCATION" and s.recognizer.startswith(("place_cue", "country"))
    ]
    assert mine == []


def test_a_place_a_cue_confirms_is_as_sure_as_the_cue() -> None:
    """A model's half-sure "place" after "flew to" must pass the policy's score floor."""
    text = "Mr. Nowak flew to Suurküla on Thursday."
    start = text.index("Suurküla")
    weak = Finding("LOCATION", start, start + len("Suurküla"), 0.3, "rampart")
    (place,) = [f for f in personal_places(text, [weak]) if f.entity_type == PERSONAL_LOCATION]
    assert (place.start, place.end) == (weak.start, weak.end)
    assert place.score >= 0.8


# ---- Address blocks: a labelled address's lower-case town, a contact card's town line ---------


def _blocks(text: str, street: str) -> list[str]:
    start = text.index(street)
    finding = Finding("STREET_ADDRESS", start, start + len(street), 0.9, "rampart")
    blocks = merge_address_blocks(text, [finding])
    return [text[f.start : f.end] for f in blocks if f.recognizer == "address_block"]


def test_a_labelled_address_takes_its_town_in_lower_case() -> None:
    text = "her address: 14 rue des lilas, saint-jean de luz"
    assert _blocks(text, "14 rue des lilas") == ["14 rue des lilas, saint-jean de luz"]


def test_an_unlabelled_address_does_not_take_the_words_after_a_comma() -> None:
    assert _blocks("Leave it at 14 Elm Street, please and thanks", "14 Elm Street") == []


def test_a_short_line_above_a_cards_country_is_its_town() -> None:
    text = "Jonas Ekberg\n\nSKÄLLINGE\nSweden"
    findings = [_place(text, "Jonas Ekberg", "PERSON"), _place(text, "Sweden")]
    places = {text[f.start : f.end] for f in personal_places(text, findings) if f.entity_type != "PERSON"}
    assert places == {"SKÄLLINGE", "Sweden"}


def test_a_line_of_prose_above_a_cards_country_is_not_a_town() -> None:
    text = "Jonas Ekberg\nSee you soon\nSweden"
    findings = [_place(text, "Jonas Ekberg", "PERSON"), _place(text, "Sweden")]
    places = {text[f.start : f.end] for f in personal_places(text, findings) if f.entity_type != "PERSON"}
    assert places == {"Sweden"}


# ---- The contextual layer still reads a message that is internal only for a place -------------


class _Scripted:
    """A contextual scorer that gives one verdict to every text and counts its calls."""

    def __init__(self, category: str, score: float) -> None:
        self.verdict, self.calls = (category, score), 0

    def best(self, text: str) -> tuple[str, float]:
        self.calls += 1
        return self.verdict


def _classify(text: str, scorer: _Scripted) -> GateDecision:
    gate = SensitivityGate(load_policy(), None, contextual=scorer, timeout_s=60)
    try:
        return gate.classify(text)
    finally:
        gate.close()


def test_an_implied_secret_next_to_a_personal_place_stays_local() -> None:
    scorer = _Scripted("authentication", 0.95)
    text = "I'm flying to Oslo; the drive password is the same as last summer with an exclamation mark."
    decision = _classify(text, scorer)
    assert "PERSONAL_LOCATION" in {e.type for e in decision.entities}
    assert (decision.tier, decision.rule, scorer.calls) == (Tier.REGULATED, "contextual:authentication", 1)


def test_a_personal_place_with_nothing_implied_stays_internal() -> None:
    scorer = _Scripted("authentication", 0.1)
    decision = _classify("I'm flying to Oslo on Friday.", scorer)
    assert (decision.tier, scorer.calls) == (Tier.INTERNAL, 1)


def test_a_message_internal_for_a_name_too_is_read() -> None:
    # Every pseudonymized type is read since policy 2026.5 (tests/test_contextual_internal.py).
    scorer = _Scripted("authentication", 0.95)
    decision = _classify("Dear Anna Berg, I'm flying to Oslo on Friday.", scorer)
    assert (decision.tier, scorer.calls) == (Tier.REGULATED, 1)


def test_the_span_index_answers_cover_and_overlap_like_a_scan() -> None:
    spans = [(0, 5), (3, 20), (30, 31), (40, 45)]
    index = SpanIndex(Finding("LOCATION", a, b, 0.9, "t") for a, b in spans)
    for start in range(0, 50):
        for end in range(start + 1, 52):
            assert index.covers(start, end) == any(a <= start and end <= b for a, b in spans), (start, end)
            assert index.overlaps(start, end) == any(a < end and start < b for a, b in spans), (start, end)
    assert not SpanIndex([]).covers(0, 1) and not SpanIndex([]).overlaps(0, 1)
