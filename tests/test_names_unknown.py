"""Names that no list knows: the leave-list-out evaluation (`confidante eval pii --unknown-names`)
and the second spaCy model that votes on names (`routing.analyzer.voter_names`).

The evaluation must remove every word of every gold name from the lists for its run only, and the
name rules must read the stand-in gazetteer (the analyzer's recognizer reads it per call)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from models.files import ModelFileError
from routing.analyzer import PERSON_VOTER, load_person_voter, voter_names
from routing.gate import SensitivityGate
from routing.names import NameGazetteer, default_gazetteer, gazetteer_in_use, refine_person_findings
from routing.pii_eval import evaluate, evaluate_unknown_names, format_known_and_unknown, gold_person_words
from routing.policy import load_policy
from routing.recognizers import Finding
from routing.settings import RoutingSettings


def _record(text: str, *names: str) -> dict[str, object]:
    spans = [{"entity_type": "PERSON", "entity_value": n, "start_position": text.index(n)} for n in names]
    for span in spans:
        span["end_position"] = int(str(span["start_position"])) + len(str(span["entity_value"]))
    return {"full_text": text, "spans": spans}


def test_without_removes_the_words_from_every_list_in_any_case() -> None:
    gazetteer = NameGazetteer(
        given=["ana", "bo"], surnames=["silva"], lone_surnames=["sokolov"], world_given=["frederikke"]
    )
    left = gazetteer.without(["ANA", "Silva", "sokolov", "Frederikke"])
    assert not left.is_given("Ana") and left.is_given("Bo")
    assert not left.is_surname("Silva") and not left.is_lone_surname("Sokolov")
    assert not left.is_world_given_only("frederikke")
    assert gazetteer.is_given("Ana") and gazetteer.is_surname("Silva")  # the original is unchanged


def test_the_stand_in_is_read_inside_the_block_only() -> None:
    shipped = default_gazetteer()
    small = NameGazetteer(given=["zzyzx"], surnames=[])
    with gazetteer_in_use(small):
        assert default_gazetteer() is small
    assert default_gazetteer() is shipped


def test_gold_person_words_are_every_word_of_every_gold_name() -> None:
    records = [_record("Ask Ana Silva-Costa and Bo", "Ana Silva-Costa", "Bo")]
    records[0]["spans"].append(  # type: ignore[attr-defined]
        {"entity_type": "GPE", "entity_value": "Lisbon", "start_position": 0, "end_position": 0}
    )
    assert gold_person_words(records) == {"ana", "silva", "costa", "bo"}


class _ListedNames:
    """A detector that knows only the names of the gazetteer in use: the list-bound part of the gate."""

    def find(self, text: str) -> list[Finding]:
        gazetteer = default_gazetteer()
        found, index = [], 0
        for word in text.split():
            start = text.index(word, index)
            index = start + len(word)
            if gazetteer.is_given(word):
                found.append(Finding("PERSON", start, index, 0.9, "fake"))
        return found


def test_unknown_names_leak_where_only_the_lists_knew_them() -> None:
    records = [_record("Please ask Ana about it", "Ana"), _record("Lunch with Bo today", "Bo")]
    gate = SensitivityGate(load_policy(None), _ListedNames(), timeout_s=60)
    try:
        with gazetteer_in_use(NameGazetteer(given=["ana", "bo"], surnames=[])):
            known = evaluate(gate, records)
            unknown = evaluate_unknown_names(gate, records)
            assert default_gazetteer().is_given("Ana")  # the run's removal ended with it
    finally:
        gate.close()
    assert (known.scores["PERSON"].recall, known.personal_leaked_sentences) == (1.0, 0)
    assert (unknown.scores["PERSON"].recall, unknown.personal_leaked_sentences) == (0.0, 2)
    table = format_known_and_unknown(known, unknown)
    assert "in the lists" in table and "unknown to the lists" in table and "100.0%" in table


@dataclass
class _Entity:
    label_: str
    start_char: int
    end_char: int


class _FakeVoter:
    def __init__(self, *entities: _Entity) -> None:
        self.ents = entities

    def __call__(self, text: str) -> _FakeVoter:
        return self


def test_the_voter_adds_its_person_spans_only_trimmed_like_spacys() -> None:
    text = "Ari's desk is in Oslo\nnear Ubul Csonka"
    voter = _FakeVoter(_Entity("PERSON", 0, 5), _Entity("GPE", 17, 21), _Entity("PERSON", 27, 38))
    found = voter_names(voter, text)  # type: ignore[arg-type]
    assert [text[f.start : f.end] for f in found] == ["Ari", "Ubul Csonka"]
    assert {f.recognizer for f in found} == {PERSON_VOTER}


def test_no_voter_is_loaded_when_none_is_set() -> None:
    assert load_person_voter(RoutingSettings(person_voter_package=None)) is None


# ---- Span rules: a title and a middle initial belong to the name (authored sentences) ----


def _person(text: str, value: str, recognizer: str = "SpacyRecognizer") -> Finding:
    start = text.index(value)
    return Finding("PERSON", start, start + len(value), 0.85, recognizer)


def _widest(text: str, findings: list[Finding]) -> set[str]:
    """The person values a gate would mask: every kept span not inside a longer one."""
    spans = [(f.start, f.end) for f in refine_person_findings(text, findings) if f.entity_type == "PERSON"]
    return {text[s:e] for s, e in spans if not any(o != (s, e) and o[0] <= s and e <= o[1] for o in spans)}


@pytest.mark.parametrize(
    ("text", "name", "masked"),
    [
        (
            "Please send the contract to Mrs. Oddny Kvalheim by Friday.",
            "Oddny Kvalheim",
            "Mrs. Oddny Kvalheim",
        ),
        ("Our new lead is Dr Ilse Brandvold.", "Ilse Brandvold", "Dr Ilse Brandvold"),
        ("ask prof. haugland about the grant", "haugland", "prof. haugland"),
        ("Ms Tove, Mr Arne and Sir Bent", "Arne", "Mr Arne"),
    ],
)
def test_a_title_is_masked_with_the_name(text: str, name: str, masked: str) -> None:
    assert masked in _widest(text, [_person(text, name)])


def test_a_title_alone_or_far_from_a_name_is_not_widened() -> None:
    text = "The Mrs. said Oddny would call."  # "Mrs." is not right before the name
    assert _widest(text, [_person(text, "Oddny")]) == {"Oddny"}


@pytest.mark.parametrize(
    ("text", "found", "masked"),
    [
        ("The report was written by Brad L Key yesterday.", "Brad", "Brad L Key"),
        ("Send it to Anna K. Young before noon.", "Anna", "Anna K. Young"),
        ("Send it to Anna K. Young before noon.", "Anna K.", "Anna K. Young"),
    ],
)
def test_a_middle_initial_joins_the_word_after_it(text: str, found: str, masked: str) -> None:
    assert masked in _widest(text, [_person(text, found)])


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("The film was directed by Brad L Key and shot in Oslo.", {"Brad L Key"}),
        ("Minutes taken by Torvald P. Gunnarsen.", {"Torvald P. Gunnarsen"}),
    ],
)
def test_a_name_shaped_initial_run_is_a_name_with_no_list_or_model(text: str, masked: set[str]) -> None:
    with gazetteer_in_use(NameGazetteer(given=[], surnames=[])):
        assert _widest(text, []) == masked


@pytest.mark.parametrize(
    "text",
    [
        "We read the Vitamin D Council report.",  # a capitalised word follows: not the run's end
        "Ask Anna A Question about the budget.",  # "A" without a full stop is a word
        "Plan B Options are due.",  # sentence start
        "the Grade B Company handles it",  # an organisation word ends it
        "We bought Vitamin D tablets.",  # no capitalised word after the initial
    ],
)
def test_initial_shaped_phrases_that_are_not_names(text: str) -> None:
    with gazetteer_in_use(NameGazetteer(given=[], surnames=[])):
        assert _widest(text, []) == set()


def test_the_shipped_voter_is_verified_and_only_its_ner_loads() -> None:
    voter = load_person_voter(RoutingSettings())
    assert voter is not None and voter.pipe_names == ["ner"]


def test_a_voter_that_does_not_match_its_pin_is_refused() -> None:
    with pytest.raises(ModelFileError, match="does not match its pinned sha256"):
        load_person_voter(RoutingSettings(person_voter_sha256="0" * 64))


def test_a_voter_name_inside_a_sure_machine_value_is_part_of_that_value() -> None:
    from routing.token_ner import defer_to_rules

    ip = Finding("IP_ADDRESS", 0, 15, 0.95, "rules")
    inside = Finding("PERSON", 4, 7, 0.85, PERSON_VOTER)
    assert defer_to_rules([ip, inside]) == [ip]


# ---- Context rules: a transcript's other speakers ----


def test_every_speaker_of_a_transcript_with_one_found_name_is_a_name() -> None:
    text = 'Torunn: "Is the build green?"\nVebjørn: "Not yet."\nTorunn: "Ping me."'
    with gazetteer_in_use(NameGazetteer(given=[], surnames=[])):
        assert _widest(text, [_person(text, "Torunn")]) == {"Torunn", "Vebjørn"}


def test_speaker_labels_with_no_name_among_them_stay_labels() -> None:
    text = 'Note: "backup at 2am"\nWarning: "disk nearly full"'
    with gazetteer_in_use(NameGazetteer(given=[], surnames=[])):
        assert _widest(text, []) == set()
