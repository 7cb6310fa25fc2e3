"""Regulated content with no identifier in it: a diagnosis, a salary, a disciplinary case.

A topic is a weighted list of phrases and patterns declared in the policy; a topic is found when
the weights of what matched reach its threshold, so one general word ("salary") stays below it
and a personal context ("his salary is $120k") goes over. An optional embedding function (any
`Callable[[list[str]], list[list[float]]]`, e.g. the local MiniLM embedder) adds similarity to the
topic's exemplar sentences. Reports name the matched policy phrases, never the user's words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

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


def _phrase_pattern(phrase: str) -> str:
    words = []
    for word in phrase.lower().split():
        stem = re.escape(word.rstrip("*"))
        # `tumou*r` style wildcards inside a word, and a trailing `*` for any ending.
        stem = stem.replace(r"\*", r"\w*")
        words.append(stem + (r"\w*" if word.endswith("*") else ""))
    return r"(?<!\w)" + r"[\s_-]+".join(words) + r"(?!\w)"


@dataclass(frozen=True)
class _CompiledTopic:
    rule: TopicRule
    signals: tuple[tuple[str, re.Pattern[str], float], ...]


def _compile(rule: TopicRule) -> _CompiledTopic:
    signals = [(phrase, re.compile(_phrase_pattern(phrase), re.I), w) for phrase, w in rule.phrases.items()]
    signals += [(f"pattern {i}", re.compile(p, re.I), w) for i, (p, w) in enumerate(rule.patterns.items(), 1)]
    return _CompiledTopic(rule, tuple(signals))


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
        for topic in self._topics:
            matched = tuple(label for label, pattern, _ in topic.signals if pattern.search(text))
            score = sum(weight for label, _, weight in topic.signals if label in matched)
            if score >= topic.rule.threshold:
                found.append(
                    TopicFinding(name=topic.rule.name, tier=topic.rule.tier, score=score, matched=matched)
                )
                continue
            similarity = self._similarity(topic.rule.name, vector)
            if similarity >= topic.rule.similarity_threshold:
                found.append(
                    TopicFinding(
                        name=topic.rule.name, tier=topic.rule.tier, score=similarity, matched=("similarity",)
                    )
                )
        return found

    def _similarity(self, name: str, vector: list[float] | None) -> float:
        exemplars = self._exemplars.get(name)
        if vector is None or not exemplars:
            return 0.0
        return max(_cosine(vector, exemplar) for exemplar in exemplars)
