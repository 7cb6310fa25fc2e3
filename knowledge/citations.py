"""Checking an answer's [n] citations against the sources it was given, deterministically.

Markers that point at no source are removed from the answer. Each cited sentence is compared
with its passage by content-word containment (stemmed, stop words out; numbers must match
exactly): below the threshold the citation is flagged unsupported. For every source the answer
uses, the passage sentence that best supports it is located, for highlighting in the UI.
No model is involved, so the check cannot be talked out of its verdict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from knowledge.grounding import Source
from knowledge.lexical import lexical_tokens

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])*|\n|$)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


class Citation(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    sentence: str
    support: float
    supported: bool


class Highlight(BaseModel):
    """The passage sentence that best supports what the answer took from a source."""

    model_config = ConfigDict(frozen=True)

    number: int
    sentence: str
    start: int
    end: int


class CitationReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    answer: str
    citations: tuple[Citation, ...]
    invalid: tuple[int, ...]
    highlights: tuple[Highlight, ...]

    @property
    def unsupported(self) -> tuple[Citation, ...]:
        return tuple(c for c in self.citations if not c.supported)

    @property
    def support_ratio(self) -> float:
        """Share of valid citations whose sentence the passage supports (0 when none)."""
        return sum(c.supported for c in self.citations) / len(self.citations) if self.citations else 0.0

    @property
    def used_sources(self) -> tuple[int, ...]:
        return tuple(sorted({c.number for c in self.citations}))


def sentence_spans(text: str) -> list[str]:
    """The answer's sentences, each with the citation markers that follow it."""
    return [m.group().strip() for m in _SENTENCE.finditer(text) if m.group().strip()]


def passage_sentences(text: str) -> list[str]:
    return sentence_spans(text)


def _content(text: str) -> set[str]:
    return set(lexical_tokens(_MARKER.sub(" ", text)))


def support_score(claim: str, passage: str) -> float:
    """Share of the claim's content words found in the passage; 0 if a number in the claim is absent."""
    claim_words = _content(claim)
    if not claim_words:
        return 0.0
    passage_numbers = set(_NUMBER.findall(passage))
    if any(number not in passage_numbers for number in _NUMBER.findall(_MARKER.sub(" ", claim))):
        return 0.0
    return len(claim_words & _content(passage)) / len(claim_words)


def check_citations(answer: str, sources: Sequence[Source], *, min_support: float = 0.5) -> CitationReport:
    by_number = {source.number: source for source in sources}
    citations: list[Citation] = []
    invalid: set[int] = set()
    for sentence in (m.group().strip() for m in _SENTENCE.finditer(answer)):
        for number in _markers(sentence):
            source = by_number.get(number)
            if source is None:
                invalid.add(number)
                continue
            score = support_score(sentence, source.chunk.text)
            citations.append(
                Citation(number=number, sentence=sentence, support=score, supported=score >= min_support)
            )
    return CitationReport(
        answer=_strip_invalid(answer, invalid),
        citations=tuple(citations),
        invalid=tuple(sorted(invalid)),
        highlights=tuple(_highlights(citations, by_number)),
    )


def _markers(sentence: str) -> list[int]:
    numbers: list[int] = []
    for match in _MARKER.finditer(sentence):
        numbers += [int(part) for part in match.group(1).split(",")]
    return list(dict.fromkeys(numbers))


def attribute_citations(answer: str, sources: Sequence[Source], *, min_support: float = 0.6) -> str:
    """Add a `[n]` to each uncited sentence that one source clearly supports.

    Small models often answer from the sources without citing them. Attribution is strict
    (most of the sentence's content words must be in the passage, numbers included) and never
    touches a sentence that already cites, so it cannot make an unsupported claim look grounded.
    """
    if not sources:
        return answer
    parts: list[str] = []
    position = 0
    for match in _SENTENCE.finditer(answer):
        sentence = match.group()
        if not sentence.strip() or _markers(sentence):
            continue
        best = max(sources, key=lambda source: support_score(sentence, source.chunk.text))
        if support_score(sentence, best.chunk.text) < min_support:
            continue
        # Before the closing punctuation: "… in France [1]."
        body = sentence.rstrip().rstrip(".!?")
        end = match.start() + len(body)
        parts.append(answer[position:end] + f" [{best.number}]")
        position = end
    parts.append(answer[position:])
    return "".join(parts)


def _strip_invalid(answer: str, invalid: set[int]) -> str:
    if not invalid:
        return answer

    def keep(match: re.Match[str]) -> str:
        kept = [p.strip() for p in match.group(1).split(",") if int(p) not in invalid]
        return f"[{', '.join(kept)}]" if kept else ""

    return re.sub(r" +([.,;:!?])", r"\1", _MARKER.sub(keep, answer))


def _highlights(citations: list[Citation], by_number: dict[int, Source]) -> list[Highlight]:
    highlights = []
    for number in sorted({c.number for c in citations}):
        claim_words = _content(" ".join(c.sentence for c in citations if c.number == number))
        passage = by_number[number].chunk.text
        best = max(
            _SENTENCE.finditer(passage),
            key=lambda m: len(_content(m.group()) & claim_words) if m.group().strip() else -1,
            default=None,
        )
        if best is not None and best.group().strip():
            text = best.group()
            offset = len(text) - len(text.lstrip())
            highlights.append(
                Highlight(
                    number=number,
                    sentence=text.strip(),
                    start=best.start() + offset,
                    end=best.start() + offset + len(text.strip()),
                )
            )
    return highlights
