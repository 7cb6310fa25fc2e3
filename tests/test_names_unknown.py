"""Names that no list knows: the leave-list-out evaluation (`confidante eval pii --unknown-names`)
and the second spaCy model that votes on names (`routing.analyzer.voter_names`).

The evaluation must remove every word of every gold name from the lists for its run only, and the
name rules must read the stand-in gazetteer (the analyzer's recognizer reads it per call)."""

from __future__ import annotations

from dataclasses import dataclass

from routing.analyzer import PERSON_VOTER, load_person_voter, voter_names
from routing.gate import SensitivityGate
from routing.names import NameGazetteer, default_gazetteer, gazetteer_in_use
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
