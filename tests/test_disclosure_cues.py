"""The surface cues that decide when a classifier-only or phrase-only signal may count alone."""

from __future__ import annotations

import pytest

from routing.disclosure_cues import (
    has_disclosure_cue,
    is_about_documents,
    is_contentless,
    is_question_or_howto,
    names_someone,
    why_classifier_alone_cannot_flag,
)

# Written for this test from the rules' intent; checked against no data set.


@pytest.mark.parametrize("text", ["ok", "Thanks!", "and the other one?", "yes please", "the next one"])
def test_contentless_follow_ups(text: str) -> None:
    assert is_contentless(text)
    assert why_classifier_alone_cannot_flag(text) == "no content word"


@pytest.mark.parametrize("text", ["I'm pregnant", "my insulin", "the sugar one"])
def test_short_messages_with_a_content_word_are_not_contentless(text: str) -> None:
    assert not is_contentless(text)


@pytest.mark.parametrize(
    "text",
    [
        "How long does a passport renewal take?",
        "Hi team, what is the PIN policy?",
        "Explain how two-factor codes are generated",
        "Tell me how to change my password on the portal",
        "I'd like to know how credit checks work. Thanks!",
        "Where do I update my bank details? (for the wiki)",
    ],
)
def test_questions_and_how_tos_without_a_disclosure_cue(text: str) -> None:
    assert is_question_or_howto(text)
    assert why_classifier_alone_cannot_flag(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Is it a problem that my password is my son's name?",
        "Can you help? I take insulin twice a day",
        "What should I tell HR, she has epilepsy",
        "Can you tidy this up? the drive password is still my cat's name",
        "my diary from rehab, can you summarise it?",
        "Can you check my account, it got flagged after the dispute?",
    ],
)
def test_questions_that_disclose_may_be_flagged(text: str) -> None:
    assert why_classifier_alone_cannot_flag(text) is None


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("my PIN is the year I was born", True),
        ("it's my dog's name", True),
        ("I owe the bank a lot", True),
        ("my manager threatened me", True),
        ("change my password", False),
        ("the reset link for the portal", False),
    ],
)
def test_disclosure_cue(text: str, cue: bool) -> None:
    assert has_disclosure_cue(text) is cue


def test_statements_about_documents_naming_no_individual() -> None:
    assert is_about_documents("The onboarding form asks for a tax number")
    assert is_about_documents("Our policy keeps badge photos for a year")
    assert not is_about_documents("my form has my tax number on it")
    assert not is_about_documents("the password from last summer with the year and an exclamation mark")
    assert why_classifier_alone_cannot_flag("The onboarding form asks for a tax number") is not None


def test_implied_disclosures_with_no_question_are_left_to_the_classifier() -> None:
    for text in (
        "the password from last summer with the year and an exclamation mark",
        "the condition I've had since childhood, the sugar one",
        "I'm behind on rent again",
    ):
        assert why_classifier_alone_cannot_flag(text) is None, text


def test_names_someone() -> None:
    assert names_someone("we were served papers") and names_someone("Her results came back")
    assert not names_someone("How is a credit score different from a credit report?")
