"""Regulated content with no identifier in it: a diagnosis, a salary, a disciplinary case.

A topic is a weighted list of phrases and patterns declared in the policy; a topic is found when
the weights of what matched reach its threshold, so one general word ("salary") stays below it
and a personal context ("his salary is $120k") goes over. An optional embedding function (any
`Callable[[list[str]], list[list[float]]]`, e.g. the local MiniLM embedder) adds similarity to the
topic's exemplar sentences. Reports name the matched policy phrases, never the user's words.

A phrase of weight 0 is vocabulary only: it is not searched on its own, it counts through a topic
pattern that names `{phrases}` (replaced by all the topic's phrases), e.g. a possession cue
("my", "I take", "she has") a few words before any condition or drug name, so "my asthma history"
is found and "What is asthma?" is not.

A finding is *strong* when a pattern matched (a possession cue, a money amount) or the message
names someone ("I", "my", "she"); it is *weak* when only topic words matched in a message about
no one ("How is a credit score different from a credit report?"). The gate lets a weak finding
count only when the contextual classifier agrees (a second opinion); this module decides nothing
about tiers beyond reporting which it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from routing.disclosure_cues import names_someone
from routing.policy import TopicRule
from routing.tiers import Tier

Embedder = Callable[[list[str]], list[list[float]]]


class TopicFinding(BaseModel):
    """A topic found in a text: which one, how strongly, and which policy phrases matched."""

    model_config = ConfigDict(frozen=True)

    name: str
    tier: Tier
    score: float
    matched: tuple[str, ...] = ()
    # False: topic words only, in a message about no one; counts only with a second opinion.
    strong: bool = True


def _phrase_pattern(phrase: str) -> str:
    words = []
    for word in phrase.lower().split():
        stem = re.escape(word.rstrip("*"))
        # `tumou*r` style wildcards inside a word, and a trailing `*` for any ending.
        stem = stem.replace(r"\*", r"\w*")
        words.append(stem + (r"\w*" if word.endswith("*") else ""))
    return r"(?<!\w)" + r"[\s_-]+".join(words) + r"(?!\w)"


_VOCABULARY = "{phrases}"
_WORD = re.compile(r"\w+")
_LEADING = re.compile(r"^[^\W_]+")


@dataclass(frozen=True)
class _Vocabulary:
    """A topic's phrases for `{phrases}` patterns, indexed by first word so a message without any of
    them skips those patterns, and one with some compiles an alternation of just those."""

    templates: tuple[tuple[str, str, float], ...]
    by_word: dict[str, tuple[str, ...]]
    by_prefix: tuple[tuple[str, str], ...]

    def present(self, words: set[str]) -> tuple[str, ...]:
        found = [phrase for word in words for phrase in self.by_word.get(word, ())]
        found += [
            phrase for prefix, phrase in self.by_prefix if any(word.startswith(prefix) for word in words)
        ]
        # Longest first, so "blood pressure" wins over "blood" when both are listed.
        return tuple(sorted(set(found), key=lambda phrase: (-len(phrase), phrase)))


def _index(rule: TopicRule) -> _Vocabulary:
    templates = tuple(
        (f"pattern {i}", p, w) for i, (p, w) in enumerate(rule.patterns.items(), 1) if _VOCABULARY in p
    )
    by_word: dict[str, list[str]] = {}
    by_prefix: list[tuple[str, str]] = []
    for phrase in rule.phrases if templates else ():
        first = phrase.lower().split()[0]
        leading = _LEADING.match(first)
        if leading is None:
            continue
        if leading.group() == first.rstrip("*") and "*" not in first:
            by_word.setdefault(first, []).append(phrase)
        else:
            by_prefix.append((leading.group(), phrase))
    return _Vocabulary(templates, {w: tuple(p) for w, p in by_word.items()}, tuple(by_prefix))


@lru_cache(maxsize=1024)
def _vocabulary_pattern(template: str, phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternation = "(?:" + "|".join(_phrase_pattern(phrase) for phrase in phrases) + ")"
    return re.compile(template.replace(_VOCABULARY, alternation), re.I)


@dataclass(frozen=True)
class _CompiledTopic:
    rule: TopicRule
    signals: tuple[tuple[str, re.Pattern[str], float], ...]
    vocabulary: _Vocabulary

    def matched(self, text: str, words: set[str]) -> tuple[tuple[str, float], ...]:
        found = [(label, weight) for label, pattern, weight in self.signals if pattern.search(text)]
        phrases = self.vocabulary.present(words) if self.vocabulary.templates else ()
        if phrases:
            for label, template, weight in self.vocabulary.templates:
                if _vocabulary_pattern(template, phrases).search(text):
                    found.append((label, weight))
        return tuple(found)


def _compile(rule: TopicRule) -> _CompiledTopic:
    # A phrase of weight 0 is vocabulary only: it counts through a `{phrases}` pattern, not alone.
    signals = [
        (phrase, re.compile(_phrase_pattern(phrase), re.I), w) for phrase, w in rule.phrases.items() if w > 0
    ]
    signals += [
        (f"pattern {i}", re.compile(p, re.I), w)
        for i, (p, w) in enumerate(rule.patterns.items(), 1)
        if _VOCABULARY not in p
    ]
    return _CompiledTopic(rule, tuple(signals), _index(rule))


def _cosine(left: Sequence[float], right: Sequence[float]) -> float:
    dot = sum(a * b for a, b in zip(left, right, strict=True))
    norm = math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right))
    return dot / norm if norm else 0.0


class TopicClassifier:
    """Finds the policy's topics in a text (phrase weights, plus embeddings when plugged in)."""

    def __init__(self, rules: Sequence[TopicRule], *, embed: Embedder | None = None) -> None:
        self._topics = tuple(_compile(rule) for rule in rules)
        self._embed = embed
        self._exemplars: dict[str, list[list[float]]] = {}
        if embed is not None:
            for rule in rules:
                if rule.exemplars:
                    self._exemplars[rule.name] = embed(list(rule.exemplars))

    def find(self, text: str) -> list[TopicFinding]:
        found = []
        vector = self._embed([text])[0] if self._embed is not None and self._exemplars else None
        words = {word.lower() for word in _WORD.findall(text)}
        for topic in self._topics:
            signals = topic.matched(text, words)
            matched = tuple(label for label, _ in signals)
            score = sum(weight for _, weight in signals)
            if score >= topic.rule.threshold:
                strong = len(matched) > sum(1 for label in matched if label in topic.rule.phrases)
                found.append(
                    TopicFinding(
                        name=topic.rule.name,
                        tier=topic.rule.tier,
                        score=score,
                        matched=matched,
                        strong=strong or names_someone(text),
                    )
                )
                continue
            similarity = self._similarity(topic.rule.name, vector)
            if similarity >= topic.rule.similarity_threshold:
                found.append(
                    TopicFinding(
                        name=topic.rule.name,
                        tier=topic.rule.tier,
                        score=similarity,
                        matched=("similarity",),
                        strong=names_someone(text),
                    )
                )
        return found

    def _similarity(self, name: str, vector: list[float] | None) -> float:
        exemplars = self._exemplars.get(name)
        if vector is None or not exemplars:
            return 0.0
        return max(_cosine(vector, exemplar) for exemplar in exemplars)
