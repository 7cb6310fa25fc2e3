"""Places that become personal from their sentence (issue 12): where the writer is now, where
someone else lives, moved from or flew to. A place in a sentence about no one stays public."""

from __future__ import annotations

import pytest

from routing.places import PERSONAL_LOCATION, personal_places
from routing.recognizers import Finding


def _label(text: str, place: str) -> str:
    start = text.index(place)
    (finding,) = personal_places(text, [Finding("LOCATION", start, start + len(place), 0.9, "test")])
    return finding.entity_type


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("I'm in Hernani, at the conference", "Hernani"),
        ("She moved here from Iceland", "Iceland"),
        ("my friend lives in harburg", "harburg"),
        ("He flew to Suurkula on Thursday", "Suurkula"),
        ("Our manager is from Tartu", "Tartu"),
    ],
)
def test_a_persons_place_is_personal(text: str, place: str) -> None:
    assert _label(text, place) == PERSONAL_LOCATION


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("France was super fun to visit!", "France"),
        ("Spain leader gives order", "Spain"),
        ("The orchestra serves Southern Hungary", "Hungary"),
        ("What is the capital of Estonia?", "Estonia"),
        ("The new office in Lisbon opens in May", "Lisbon"),
    ],
)
def test_a_place_about_no_one_stays_a_place(text: str, place: str) -> None:
    assert _label(text, place) == "LOCATION"
