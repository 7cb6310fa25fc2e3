"""Names found from layout and weak evidence (issue 12): a contact card's first line, transcript
speakers, degree suffixes, lone world surnames, and list items a model was unsure of.

Unit tests drive the functions of `routing.names` with hand-made findings; the gazetteer is the
installed one (census + `routing/data` lists), read from local files only.
"""

from __future__ import annotations

from routing.names import (
    NameGazetteer,
    NameToken,
    default_gazetteer,
    find_names,
    header_names,
    listed_with_names,
    repeated_names,
    speaker_names,
    with_suffixes,
)
from routing.recognizers import Finding


def _values(text: str, findings: list[Finding]) -> list[str]:
    return [text[f.start : f.end] for f in findings if f.entity_type == "PERSON"]


def _phone(text: str, number: str) -> Finding:
    start = text.index(number)
    return Finding("PHONE_NUMBER", start, start + len(number), 0.9, "test")


def test_first_line_of_a_contact_card_is_a_name() -> None:
    text = "Einojuhani Pyysalo\n\nBus driver\n\nPhone:\n201-948-1927"
    assert _values(text, header_names(text, [_phone(text, "201-948-1927")])) == ["Einojuhani Pyysalo"]


def test_decorated_first_line_is_a_name() -> None:
    text = ">Tzigane Lantos\n>Fritz-Armstrong\n>call 201-948-1927"
    assert _values(text, header_names(text, [_phone(text, "201-948-1927")])) == ["Tzigane Lantos"]


def test_first_line_without_contact_details_is_not_a_name() -> None:
    text = "Quarterly Review\n\nThe numbers are up."
    assert header_names(text, []) == []


def test_a_sentence_on_the_first_line_is_not_a_name() -> None:
    text = "Please call me back today\n201-948-1927"
    assert header_names(text, [_phone(text, "201-948-1927")]) == []


def test_lower_case_card_line_needs_a_known_given_name() -> None:
    known = "maria p lombardo\nunit 1009\n201-948-1927"
    unknown = "quarterly review\nunit 1009\n201-948-1927"
    assert _values(known, header_names(known, [_phone(known, "201-948-1927")])) == ["maria p lombardo"]
    assert header_names(unknown, [_phone(unknown, "201-948-1927")]) == []


def test_transcript_speakers_with_known_names() -> None:
    text = 'Gabriel: "Who are you?"\nSara:"I\'m her daughter".\nNote: "ok"'
    assert _values(text, speaker_names(text, default_gazetteer())) == ["Gabriel", "Sara"]


def test_degree_suffix_joins_the_name_but_a_title_does_not() -> None:
    text = "including Mrs. Kathrine Filemonsen DDS, and others"
    start = text.index("Kathrine")
    name = Finding("PERSON", start, start + len("Kathrine Filemonsen"), 0.8, "test")
    assert _values(text, with_suffixes(text, [name])) == ["Kathrine Filemonsen DDS"]


def test_unsure_list_item_next_to_a_confident_name_is_a_name() -> None:
    text = "Usamov and Bowers were precision engineers."
    unsure = Finding("PERSON", 0, 6, 0.53, "rampart")
    sure = Finding("PERSON", 11, 17, 0.92, "rampart")
    added = listed_with_names(text, [unsure, sure])
    assert _values(text, added) == ["Usamov"]
    assert all(f.score >= 0.6 for f in added)


def test_unsure_name_is_no_evidence_for_its_repeats() -> None:
    text = "Zoolander met Zoolander"
    assert repeated_names(text, [Finding("PERSON", 0, 9, 0.51, "rampart")]) == []


def _tokens(words: list[tuple[str, str, str]], text: str) -> list[NameToken]:
    tokens, index = [], 0
    for word, pos, entity in words:
        start = text.index(word, index)
        index = start + len(word)
        tokens.append(NameToken(word, start, index, pos, entity))
    return tokens


def test_lone_world_surname_inside_a_sentence() -> None:
    gazetteer = NameGazetteer(given=[], surnames=["singer"], lone_surnames=["sokolov"])
    text = "Unlike the Sokolov novel"
    words = [("Unlike", "", ""), ("the", "", ""), ("Sokolov", "PROPN", ""), ("novel", "", "")]
    assert _values(text, find_names(text, _tokens(words, text), gazetteer)) == ["Sokolov"]


def test_census_only_surname_does_not_count_alone() -> None:
    gazetteer = NameGazetteer(given=[], surnames=["singer"], lone_surnames=["sokolov"])
    text = "Unlike the Singer novel"
    words = [("Unlike", "", ""), ("the", "", ""), ("Singer", "PROPN", ""), ("novel", "", "")]
    assert find_names(text, _tokens(words, text), gazetteer) == []


def test_lone_surname_at_a_sentence_start_does_not_count() -> None:
    gazetteer = NameGazetteer(given=[], surnames=[], lone_surnames=["sokolov"])
    text = "Sokolov novels sell"
    words = [("Sokolov", "PROPN", ""), ("novels", "", ""), ("sell", "", "")]
    assert find_names(text, _tokens(words, text), gazetteer) == []


def test_world_name_lists_are_loaded_and_keep_english_words_out() -> None:
    gazetteer = default_gazetteer()
    assert gazetteer.is_given("Aino")
    assert gazetteer.is_lone_surname("Nieminen")
    assert not gazetteer.is_lone_surname("Baby")
    assert not gazetteer.is_lone_surname("Standard")


def test_world_surname_counts_even_where_spacy_says_org() -> None:
    gazetteer = NameGazetteer(given=["alexa"], surnames=[], lone_surnames=["sokolov"])
    text = "Unlike the Sokolov novel, ask Alexa"
    words = [
        ("Unlike", "", ""), ("the", "", ""), ("Sokolov", "PROPN", "ORG"), ("novel", "", ""),
        (",", "", ""), ("ask", "", ""), ("Alexa", "PROPN", "ORG"),
    ]  # fmt: skip
    assert _values(text, find_names(text, _tokens(words, text), gazetteer)) == ["Sokolov"]


def test_foreign_surname_ending_makes_a_name_even_at_a_sentence_start() -> None:
    gazetteer = NameGazetteer(given=[], surnames=[], lone_surnames=[])
    text = "Ástríður Steinarsdóttir of Inrix is here"
    words = [
        ("Ástríður", "PROPN", ""), ("Steinarsdóttir", "PROPN", ""), ("of", "", ""), ("Inrix", "PROPN", ""),
    ]  # fmt: skip
    assert _values(text, find_names(text, _tokens(words, text), gazetteer)) == ["Ástríður Steinarsdóttir"]


def test_common_english_words_have_no_foreign_surname_ending() -> None:
    # Known cost: a rare English word with such an ending ("Improv") is masked as a name.
    gazetteer = NameGazetteer(given=[], surnames=[], lone_surnames=[])
    for word in ("Lesson", "Person", "Season", "Review", "Preview", "Comparison", "Reason", "Mission"):
        assert not gazetteer.is_foreign_surname(word), word


def test_lower_case_pair_after_an_article_is_a_noun_phrase() -> None:
    from routing.names import context_names

    text = "we are looking for volunteers to run the charity bake sale"
    assert _values(text, context_names(text, default_gazetteer())) == []
    named = "write to benjamin a seiler today"
    assert _values(named, context_names(named, default_gazetteer())) == ["benjamin a seiler"]
