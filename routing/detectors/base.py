"""The building blocks every detector family shares: a finding, a rule, and context words.

A rule is a value pattern plus, optionally, context words that must (or may) appear near the value.
Context words are matched by `routing.detectors.fuzzy.FuzzyContext`, so "acct", "passprt nmbr" and
"pasword" count as "account", "passport number" and "password". Rules report spans only: they never
decide a tier (the policy does) and never keep a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

IGNORE_CASE = re.IGNORECASE


@dataclass(frozen=True, slots=True)
class Finding:
    """An entity found in scanned text: type, span in that text, score, and who found it."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str


# Matches of each pattern in one text, shared by the rules that use the same compiled pattern.
MatchCache = dict[re.Pattern[str], list[re.Match[str]]]


class ContextMatcher(Protocol):
    """Anything that says whether context words occur in a window of text (a regex, a fuzzy matcher)."""

    def search(self, string: str, /) -> object: ...


@dataclass(frozen=True)
class IdentifierRule:
    """A value pattern, optionally gated or boosted by context words near it."""

    name: str
    entity: str
    pattern: re.Pattern[str]
    score: float
    context: ContextMatcher | None = None
    # With context: score when a context word is near; without it the base `score` (or no match).
    context_score: float | None = None
    require_context: bool = True
    before: int = 48
    after: int = 16
    validate: Callable[[str], bool] | None = None
    # Cheap gate: the rule runs only when one of these lower-case substrings is in the text.
    trigger: re.Pattern[str] | None = None

    def find(self, text: str, matches: MatchCache | None = None) -> Iterator[Finding]:
        """Findings in `text`; `matches` shares the scan of one pattern among the rules that use it."""
        if self.trigger is not None and not self.trigger.search(text):
            return
        if matches is None:
            found = list(self.pattern.finditer(text))
        elif self.pattern in matches:
            found = matches[self.pattern]
        else:
            found = matches[self.pattern] = list(self.pattern.finditer(text))
        for match in found:
            group = "value" if "value" in self.pattern.groupindex else 0
            start, end = match.span(group)
            value = match.group(group)
            if self.validate is not None and not self.validate(value):
                continue
            score = self._score(text, start, end)
            if score is not None:
                yield Finding(self.entity, start, end, score, self.name)

    def _score(self, text: str, start: int, end: int) -> float | None:
        if self.context is None:
            return self.score
        window = text[max(0, start - self.before) : end + self.after]
        if self.context.search(window):
            return self.context_score if self.context_score is not None else self.score
        return None if self.require_context else self.score


def digits_of(value: str) -> str:
    return "".join(char for char in value if char.isdigit())


def digit_count(low: int, high: int) -> Callable[[str], bool]:
    return lambda value: low <= len(digits_of(value)) <= high


def enough_digits(minimum: int) -> Callable[[str], bool]:
    return lambda value: len(digits_of(value)) >= minimum


def not_one_digit(value: str) -> bool:
    """Sample values ("000-00-0000", "1111") are documentation, not someone's identifier."""
    digits = digits_of(value)
    return len(set(digits)) > 1


def all_of(*checks: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda value: all(check(value) for check in checks)


# A token that may be an identifier: letters and digits, with inner dashes, 5 to 20 characters.
ID_VALUE = r"(?<![\w-])(?P<value>[A-Z0-9](?:[A-Z0-9]|[-/.](?=[A-Z0-9])){4,24})(?![\w-])"
# What sits between a context word and a value: "is", ":", "=", "#", "no.", "number".
ASSIGN = r"(?:\s*(?:is|was|=|:|->|#)\s*|\s+)"
# Digits in groups with any separators: "318 274 659", "4539-1488.0343 6467".
GROUPED_DIGITS = r"(?<![\w.-])(?P<value>\d{1,6}(?:(?:\s?[ ./-]\s?|\s)\d{1,6}){1,6}[A-Z]?)(?![\w-]|\.\d)"
_COMMON_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "not",
        "is",
        "was",
        "my",
        "your",
        "our",
        "his",
        "her",
        "their",
        "this",
        "that",
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "it",
        "to",
        "be",
        "been",
        "being",
        "in",
        "on",
        "at",
        "of",
        "for",
        "with",
        "from",
        "by",
        "as",
        "if",
        "no",
        "yes",
        "none",
        "same",
        "different",
        "required",
        "optional",
        "correct",
        "incorrect",
        "wrong",
        "right",
        "changed",
        "reset",
        "expired",
        "missing",
        "invalid",
        "valid",
        "too",
        "very",
        "also",
    ]
)


# Compiled once and shared, so `find_identifiers` scans a text for each of them once (`MatchCache`).
ID_PATTERN = re.compile(ID_VALUE, IGNORE_CASE)
GROUPED_DIGITS_PATTERN = re.compile(GROUPED_DIGITS, IGNORE_CASE)


_DATE_LIKE = re.compile(r"\d{1,4}[/.-]\d{1,2}(?:[/.-]\d{1,4})?")


def not_a_date(value: str) -> bool:
    """ "12/03" next to "my order" is when, not which."""
    return _DATE_LIKE.fullmatch(value) is None


def not_a_common_word(value: str) -> bool:
    return value.casefold() not in _COMMON_WORDS


def context_id_rules(
    name: str,
    entity: str,
    context: ContextMatcher,
    *,
    score: float = 0.85,
    min_digits: int = 4,
    before: int = 40,
) -> tuple[IdentifierRule, ...]:
    """An identifier named by context words: a token ("CUST40917") or grouped digits ("318 274 659")."""
    return (
        IdentifierRule(
            f"{name}_token",
            entity,
            ID_PATTERN,
            score,
            context=context,
            before=before,
            after=0,
            validate=all_of(enough_digits(min_digits), not_one_digit, not_a_date),
        ),
        IdentifierRule(
            f"{name}_digits",
            entity,
            GROUPED_DIGITS_PATTERN,
            score,
            context=context,
            before=before,
            after=0,
            validate=all_of(enough_digits(max(min_digits, 5)), not_one_digit, not_a_date),
        ),
    )
