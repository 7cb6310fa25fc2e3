"""A lone capitalised word in a slot only a person fills (`routing.name_slots`): authored sentences,
with an empty gazetteer so that nothing but the slot can make the word a name."""

from __future__ import annotations

import pytest

from routing.name_slots import slot_names
from routing.names import NameGazetteer

_EMPTY = NameGazetteer(given=[], surnames=[], stop_words=["the", "this", "it", "everything", "that"])


def _names(text: str) -> list[str]:
    return [text[f.start : f.end] for f in slot_names(text, _EMPTY)]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Tarvo is so stubborn about the release dates.", "Tarvo"),
        ("Honestly Eilif was really rude in the meeting.", "Eilif"),
        ("Why is Gunnhild always this grumpy on Mondays?", "Gunnhild"),
        ("Aune is very dependable. I would trust her with the keys.", "Aune"),
        ("Liv, could you send me the slides?", "Liv"),
        ("Thanks for the notes.\nOdvar, can you book the room?", "Odvar"),
    ],
)
def test_a_person_only_slot_makes_a_name(text: str, name: str) -> None:
    assert _names(text) == [name]


@pytest.mark.parametrize(
    "text",
    [
        "Postgres is very reliable for this workload.",  # a thing's trait, no pronoun near
        "London is so expensive in summer.",  # no trait of people
        "Fedora is kind of slow on old laptops.",  # "kind of" is no trait
        "Dad is sick this week.",  # a family role, not a name
        "Folks, can you review the draft?",  # a group addressed
        "Thanks, could you resend it?",  # a courtesy word
        "The team is very friendly. He said so.",  # a function word
        "Hmm, can we talk later?",  # an interjection
        "We asked: is Python really reliable?",  # a shared trait with no pronoun
    ],
)
def test_things_roles_and_openers_are_not_names(text: str) -> None:
    assert _names(text) == []
