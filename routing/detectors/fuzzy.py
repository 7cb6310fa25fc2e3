"""Context words matched the way people actually type them: exact, abbreviated, acronyms, one typo.

Every rule's context (the words that make "318274659" a national ID) goes through `FuzzyContext`.
A context phrase ("passport number") matches a run of words in the text when each word matches:
- exactly, or as the phrase's acronym ("dob" for "date of birth", "S S N" after normalization);
- as an abbreviation: same first and last letter, a subsequence of the word, at most one vowel,
  three consonants or more and at least half of the word's ("pwd", "acct", "nmbr", "scrty",
  "passprt"), or a prefix of four letters
  or more that drops three or more ("cust" for "customer", not "user" for "userid");
- with one typo (insertion, deletion, substitution or transposition) when both are five letters or
  longer ("pasword", "licence"/"license").
This is a generic matcher over each rule's own vocabulary, never a list of misspellings; short
words (under four letters) are matched exactly, which keeps "car", "pad" and "sec" from counting.
It only answers "is a context word near?"; it never sees or keeps a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from routing.detectors.base import ContextMatcher

# One-letter tokens ("s" in "driver's", "a") carry no context and would break phrase runs.
_TOKEN = re.compile(r"[a-z]{2,}")
_VOWELS = frozenset("aeiou")
_DOUBLED = re.compile(r"(.)\1+")
_MIN_FUZZY = 4
_MIN_TYPO = 5


_LEET = re.compile(r"(?<=[a-z])[@0134$57](?=[a-z])")
_LEET_LETTERS = {"@": "a", "0": "o", "1": "i", "3": "e", "4": "a", "$": "s", "5": "s", "7": "t"}


def _tokens(text: str) -> list[str]:
    # Apostrophes inside words go: "nat'l" is "natl", "driver's" is "drivers". Look-alike digits and
    # symbols between letters are letters: "p@ssw0rd" is "password" (digits in values stay digits).
    lowered = text.lower().replace("'", "").replace("’", "")
    return _TOKEN.findall(_LEET.sub(lambda match: _LEET_LETTERS[match.group()], lowered))


def _consonants(word: str) -> str:
    return "".join(char for char in word if char not in _VOWELS)


def _deletes(word: str) -> set[str]:
    return {word[:index] + word[index + 1 :] for index in range(len(word))}


def _is_subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(char in letters for char in short)


def is_abbreviation(token: str, word: str) -> bool:
    """ "acct" for "account", "pwd" for "password", "cust" for "customer"; not "pad" for "password"."""
    if len(token) < 3 or len(word) < _MIN_FUZZY or len(token) >= len(word) or token[0] != word[0]:
        return False
    if len(token) >= _MIN_FUZZY and word.startswith(token):
        # A clipped word ("cust" for "customer"), not a word plus a short ending ("user" in "userid").
        return len(word) - len(token) >= 3
    if token[-1] != word[-1] or not _is_subsequence(token, word):
        return False
    if sum(char in _VOWELS for char in token) > 1:
        return False
    # Three consonants at least: "crd" is "card", but "mid" is not "meid".
    consonants = len(_consonants(token))
    return consonants >= 3 and consonants >= 0.5 * len(_DOUBLED.sub(r"\1", _consonants(word)))


def within_one_edit(token: str, word: str) -> bool:
    """Damerau distance at most 1, through shared single-character deletions."""
    if min(len(token), len(word)) < _MIN_TYPO or abs(len(token) - len(word)) > 1:
        return False
    if token == word or token in _deletes(word) or word in _deletes(token):
        return True
    return len(token) == len(word) and bool(_deletes(token) & _deletes(word))


def word_matches(token: str, word: str) -> bool:
    if token == word or (token.endswith("s") and token[:-1] == word):
        return True
    if len(word) < _MIN_FUZZY:
        return False
    return is_abbreviation(token, word) or within_one_edit(token, word)


class FuzzyContext:
    """Says whether any of its phrases occurs (fuzzily) in a window of text."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases = tuple(tuple(_tokens(phrase)) for phrase in phrases)
        self._phrases = tuple(phrase for phrase in self._phrases if phrase)
        self._acronyms = frozenset(
            "".join(word[0] for word in phrase) for phrase in self._phrases if len(phrase) >= 3
        )
        self._words = frozenset(word for phrase in self._phrases for word in phrase)
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in self._phrases:
            by_first.setdefault(phrase[0], []).append(phrase)
        self._by_first = {word: tuple(phrases) for word, phrases in by_first.items()}
        self._cache: dict[str, frozenset[str]] = {}

    def search(self, string: str, /) -> bool:
        tokens = _tokens(string)
        if any(token in self._acronyms for token in tokens):
            return True
        matched = [self._matches(token) for token in tokens]
        for index, words in enumerate(matched):
            for word in words:
                if any(self._phrase_at(phrase, matched, index) for phrase in self._by_first.get(word, ())):
                    return True
        return False

    @staticmethod
    def _phrase_at(phrase: tuple[str, ...], matched: list[frozenset[str]], index: int) -> bool:
        if index + len(phrase) > len(matched):
            return False
        return all(word in matched[index + offset] for offset, word in enumerate(phrase))

    def _matches(self, token: str) -> frozenset[str]:
        cached = self._cache.get(token)
        if cached is None and token in self._words:
            # A word of the vocabulary is that word, not a clipping of a longer one: "pass" (from
            # "pass code") is not "passcode", so "pass the exam in 2024" names no PIN.
            cached = frozenset({token})
        if cached is None:
            cached = frozenset(word for word in self._words if word_matches(token, word))
            if len(self._cache) < 4096:  # bounded: the cache is shared by every message
                self._cache[token] = cached
        return cached


def fuzzy(*phrases: str) -> FuzzyContext:
    return FuzzyContext(phrases)


class AnyContext:
    """Several context matchers; matches when any of them does (e.g. a regex for "ss#" plus fuzzy words)."""

    def __init__(self, *matchers: ContextMatcher) -> None:
        self._matchers = matchers

    def search(self, string: str, /) -> bool:
        return any(matcher.search(string) for matcher in self._matchers)


class AllContext:
    """Several context matchers that must all match: "salary" words and a person they are about."""

    def __init__(self, *matchers: ContextMatcher) -> None:
        self._matchers = matchers

    def search(self, string: str, /) -> bool:
        return all(matcher.search(string) for matcher in self._matchers)


# Someone the value belongs to: the writer or a person they speak of.
PERSON_CUE = re.compile(
    r"(?<![a-z])(?:i|i'm|im|i've|my|me|mine|we|our|us|he|she|his|her|hers|they|their|him)(?![a-z])", re.I
)
