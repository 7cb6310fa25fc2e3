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


# Round two (issue 12): task requests, verbless and inverted questions, complaints and corrections.


@pytest.mark.parametrize(
    "text",
    [
        "Translate this phrase into German: the invoice is attached",
        "Rewrite this more politely: send the file by noon",
        "Draft a reply saying we will ship on Monday",
        "Hi team, proofread the paragraph below",
        "please shorten this to two lines",
        "Make the tone friendlier",
    ],
)
def test_task_requests_without_a_disclosure_cue(text: str) -> None:
    assert why_classifier_alone_cannot_flag(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Summarise the transcript of my disciplinary meeting",
        "Rewrite this: my husband has cancer and I need time off",
        "Translate for the doctor: she has had seizures since May",
        "driver licence D97WUY5GX, please add it to the rental",
        "Use the ID I showed at reception for the badge",
    ],
)
def test_requests_about_a_person_or_led_by_content_may_be_flagged(text: str) -> None:
    assert why_classifier_alone_cannot_flag(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "Zoom approved by IT?",
        "Which form do I use for a travel claim?",
        "Should we keep the old VPN client?",
        "Laptop encryption mandatory for contractors?",
    ],
)
def test_verbless_and_inverted_questions_are_not_disclosures(text: str) -> None:
    assert why_classifier_alone_cannot_flag(text) is not None


@pytest.mark.parametrize(
    "text", ["the thing with my thyroid?", "use Dragon2013? to get into the shared account"]
)
def test_a_question_mark_alone_does_not_make_a_question(text: str) -> None:
    # A person word or a digit (part of a value) keeps a verbless "question" scoreable.
    assert why_classifier_alone_cannot_flag(text) is None


def test_a_pronoun_after_an_auxiliary_is_not_a_disclosure_cue() -> None:
    assert not has_disclosure_cue("Which form do I use for a visa?")
    assert has_disclosure_cue("I use my maiden name on my passport")


@pytest.mark.parametrize(
    "text",
    [
        "I forgot my password again",
        "I forgot my password again, where is the reset link?",
        "ugh, I'm locked out of my account",
        "That's wrong, check the numbers again",
        "No, that's not what I asked",
        "This is still incorrect",
    ],
)
def test_complaints_and_corrections_without_a_value(text: str) -> None:
    assert why_classifier_alone_cannot_flag(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "That's wrong, my salary is higher than that",
        "I forgot my insulin at home and feel dizzy",
        "I lost my passport in Lisbon",
    ],
)
def test_complaints_that_disclose_may_be_flagged(text: str) -> None:
    assert why_classifier_alone_cannot_flag(text) is None
