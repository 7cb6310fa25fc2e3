"""The fuzzy context matcher: abbreviations, acronyms and typos count; ordinary words do not."""

from __future__ import annotations

import pytest

from routing.detectors.fuzzy import FuzzyContext, is_abbreviation, within_one_edit


@pytest.mark.parametrize(
    ("token", "word"),
    [("pwd", "password"), ("acct", "account"), ("nmbr", "number"), ("crd", "card"), ("scrty", "security"),
     ("passprt", "passport"), ("cust", "customer"), ("scl", "social")],
)  # fmt: skip
def test_abbreviations(token: str, word: str) -> None:
    assert is_abbreviation(token, word)


@pytest.mark.parametrize(
    ("token", "word"),
    [
        ("pad", "password"),
        ("mid", "meid"),
        ("car", "card"),
        ("cat", "contact"),
        ("pass", "pa"),
        ("sec", "security"),
    ],
)
def test_ordinary_words_are_not_abbreviations(token: str, word: str) -> None:
    assert not is_abbreviation(token, word)


@pytest.mark.parametrize(
    ("token", "word", "expected"),
    [("pasword", "password", True), ("passwrod", "password", True), ("licence", "license", True),
     ("pasport", "passport", True), ("card", "cart", False), ("amount", "account", False)],
)  # fmt: skip
def test_one_typo(token: str, word: str, expected: bool) -> None:
    assert within_one_edit(token, word) is expected


def test_phrases_need_every_word_in_order() -> None:
    context = FuzzyContext(["passport number", "date of birth", "social security number"])
    assert context.search("my passprt nmbr is")
    assert context.search("DOB:")
    assert context.search("ssn")
    assert context.search("scl scrty nmbr")
    assert not context.search("number of passports issued")
    assert not context.search("the date is on the birth certificate")


def test_a_word_with_a_short_ending_is_not_its_clipping() -> None:
    assert not is_abbreviation("user", "userid")


def test_a_vocabulary_word_is_not_a_clipping_of_another() -> None:
    context = FuzzyContext(["passcode", "pass code"])
    assert not context.search("pass the exam")
    assert context.search("pass code")
    assert FuzzyContext(["passcode"]).search("pass")


def test_look_alike_characters_inside_context_words() -> None:
    context = FuzzyContext(["password", "routing number"])
    assert context.search("my p@ssw0rd is")
    assert context.search("rout1ng nmbr")
    assert not context.search("4539 1488")
