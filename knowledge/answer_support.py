"""Does the answer say what its cited passages say? A check of the generated text itself.

Retrieval confidence says the documents probably hold the answer; it says nothing about what the
model then wrote. Here every substantive answer sentence is compared with the passage(s) it cites
(or, uncited, with the best of the passages it was given) on four signals:

- numbers, dates and amounts: each one in the sentence must appear in the passage (hard rule);
- named terms (form codes, capitalised names): most must appear in the passage;
- lexical coverage: the share of the sentence's content words the passage contains;
- meaning: the best cosine between the sentence and a passage sentence (the int8 MiniLM embedder).

Then degeneration is looked for: loops, markup debris, an answer that echoes the question, an answer
that repeats the previous turn's answer. The result is a typed verdict with a plain-words reason.
No model writes the verdict, so the answer cannot talk its way into "supported"; this module never
changes the answer and never calls a chat model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from knowledge.citations import passage_sentences, sentence_spans
from knowledge.lexical import lexical_tokens
from models.degeneration import LoopDetector

Embed = Callable[[Sequence[str]], list[list[float]]]
# A text's unit vector, from one embedding call for the whole answer (see `_vectors_for`).
Vectors = Callable[[str], np.ndarray]
Degeneration = Literal["repetition", "markup_debris", "echoes_question", "repeats_previous_answer"]

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_NAMED = re.compile(r"\b(?:[A-Z]{2,}[A-Za-z]*(?:-\d+)?|[A-Z][a-z]+(?:-[A-Z0-9][A-Za-z0-9]*)?)\b")
_DEBRIS = re.compile(r"\\?\[[^\]\n]{0,40}removed[^\]\n]{0,60}\\?\]|</?[A-Za-z][^>\n]{0,80}>|&lt;|&gt;")
# A sentence needs this many content words to be a claim (not "Sure!" or "Hope this helps.").
MIN_CLAIM_WORDS = 3
# Weights of the two soft signals; the hard number rule and named terms gate them.
LEXICAL_WEIGHT = 0.5
SUPPORTED_AT = 0.5
# "Strongly supported" (needed for a high badge): most of the sentence's words are in the passage
# AND it is close in meaning to one passage sentence. Topic overlap alone (same article, other
# paragraph) passes the blended test above but rarely both of these.
STRONG_LEXICAL = 0.6
STRONG_SEMANTIC = 0.6
STRONG_LEXICAL_ONLY = 0.75
# ... and at most this many of its content words are absent from the passage: a near-miss sentence
# from the same document ("X is complete for C" against a passage about "hard for C") differs in
# exactly the one or two words that carry the claim.
STRONG_MAX_MISSING = 1


class SentenceSupport(BaseModel):
    model_config = ConfigDict(frozen=True)

    sentence: str
    cited: tuple[int, ...]
    lexical: float
    semantic: float | None
    numbers_ok: bool
    names_ok: bool
    supported: bool
    strong: bool = False


class AnswerSupport(BaseModel):
    """How well the answer is backed by its passages, and what went wrong if it is not."""

    model_config = ConfigDict(frozen=True)

    sentences: tuple[SentenceSupport, ...]
    degeneration: tuple[Degeneration, ...]
    score: float
    reason: str

    @property
    def supported_count(self) -> int:
        return sum(s.supported for s in self.sentences)

    @property
    def all_strong(self) -> bool:
        return bool(self.sentences) and all(s.strong for s in self.sentences)


def assess_answer(
    answer: str,
    passages: dict[int, str],
    *,
    question: str = "",
    previous_answer: str = "",
    embed: Embed | None = None,
) -> AnswerSupport:
    """Check `answer` against `passages` (source number → passage text)."""
    claims = [s for s in sentence_spans(answer) if len(_content(s)) >= MIN_CLAIM_WORDS]
    vectors = _vectors_for(claims, passages, embed) if embed is not None else None
    checked = tuple(_check_sentence(claim, passages, vectors) for claim in claims)
    degeneration = detect_degeneration(answer, question=question, previous_answer=previous_answer)
    score = sum(s.supported for s in checked) / len(checked) if checked else 0.0
    if degeneration:
        score = min(score, 0.2)
    return AnswerSupport(
        sentences=checked,
        degeneration=degeneration,
        score=round(score, 3),
        reason=support_reason(checked, degeneration),
    )


def _candidates(sentence: str, passages: dict[int, str]) -> tuple[int, ...]:
    """The passages a sentence is judged against: those it cites, or (uncited) all of them, so it
    earns no credit for a citation it did not make but a sentence drawn from the sources still counts."""
    return tuple(n for n in _markers(sentence) if n in passages) or tuple(passages)


def _vectors_for(claims: Sequence[str], passages: dict[int, str], embed: Embed) -> Vectors:
    """Every claim and every sentence of the passages they are judged against, embedded once in one
    call (a passage cited by several sentences used to be embedded again for each of them)."""
    needed = {number for claim in claims for number in _candidates(claim, passages)}
    texts = [_MARKER.sub(" ", claim) for claim in claims]
    texts += [piece for number in sorted(needed) for piece in _pieces(passages[number])]
    unique = list(dict.fromkeys(texts))
    by_text = dict(zip(unique, np.asarray(embed(unique), dtype=np.float32), strict=True)) if unique else {}
    return by_text.__getitem__


def _pieces(passage: str) -> list[str]:
    return passage_sentences(passage) or [passage]


def _check_sentence(sentence: str, passages: dict[int, str], vectors: Vectors | None) -> SentenceSupport:
    candidates = _candidates(sentence, passages)
    verdicts = [_against(sentence, number, passages[number], vectors) for number in candidates]
    if not verdicts:
        return SentenceSupport(
            sentence=sentence,
            cited=(),
            lexical=0.0,
            semantic=None,
            numbers_ok=False,
            names_ok=False,
            supported=False,
        )
    return max(verdicts, key=lambda v: (v.strong, v.supported, v.lexical + (v.semantic or 0.0)))


def _against(sentence: str, number: int, passage: str, vectors: Vectors | None) -> SentenceSupport:
    claim = _MARKER.sub(" ", sentence)
    numbers_ok = all(n in set(_NUMBER.findall(passage)) for n in _NUMBER.findall(claim))
    names_ok = _names_present(claim, passage)
    words = _content(claim)
    missing = len(words - _content(passage))
    lexical = (len(words) - missing) / len(words) if words else 0.0
    semantic = _best_cosine(claim, passage, vectors) if vectors is not None else None
    blended = lexical if semantic is None else LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * semantic
    supported = numbers_ok and names_ok and blended >= SUPPORTED_AT
    strong = missing <= STRONG_MAX_MISSING and (
        lexical >= STRONG_LEXICAL_ONLY
        if semantic is None
        else lexical >= STRONG_LEXICAL and semantic >= STRONG_SEMANTIC
    )
    return SentenceSupport(
        sentence=sentence,
        cited=(number,),
        lexical=round(lexical, 3),
        semantic=None if semantic is None else round(semantic, 3),
        numbers_ok=numbers_ok,
        names_ok=names_ok,
        supported=supported,
        strong=supported and strong,
    )


def _names_present(claim: str, passage: str) -> bool:
    """Most named terms of the claim occur in the passage (the first word of a sentence is not a name)."""
    body = claim.strip().split(" ", 1)[1] if " " in claim.strip() else ""
    names = {n.lower() for n in _NAMED.findall(body)}
    if not names:
        return True
    lowered = passage.lower()
    return sum(name in lowered for name in names) / len(names) >= 0.5


def _best_cosine(claim: str, passage: str, vectors: Vectors) -> float:
    head = vectors(claim)
    return max(max(float(np.dot(head, vectors(piece))) for piece in _pieces(passage)), 0.0)


def detect_degeneration(
    answer: str, *, question: str = "", previous_answer: str = ""
) -> tuple[Degeneration, ...]:
    """What is wrong with the text as text, whatever the passages say."""
    found: list[Degeneration] = []
    if is_repetitive(answer):
        found.append("repetition")
    if len(_DEBRIS.findall(answer)) >= 2:
        found.append("markup_debris")
    if question and _echoes(answer, question):
        found.append("echoes_question")
    if previous_answer and _similar(answer, previous_answer) >= 0.8:
        found.append("repeats_previous_answer")
    return tuple(found)


def is_repetitive(text: str) -> bool:
    """A loop, by the same detector that cuts looping streams (`models.degeneration`): an answer
    that was cut, or slipped past it, still counts as repetitive here."""
    return LoopDetector().feed(text) is not None


def _echoes(answer: str, question: str) -> bool:
    plain = _MARKER.sub(" ", answer)
    return _similar(plain, question) >= 0.8 and len(plain) <= 1.5 * len(question) + 20


def _similar(a: str, b: str) -> float:
    """Jaccard similarity of content words."""
    wa, wb = _content(a), _content(b)
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def _content(text: str) -> set[str]:
    return set(lexical_tokens(_MARKER.sub(" ", text)))


def _markers(sentence: str) -> list[int]:
    numbers: list[int] = []
    for match in _MARKER.finditer(sentence):
        numbers += [int(part) for part in match.group(1).split(",")]
    return list(dict.fromkeys(numbers))


_DEGENERATION_WORDS: dict[Degeneration, str] = {
    "repetition": "the answer repeats itself",
    "markup_debris": "the answer contains markup debris",
    "echoes_question": "the answer only repeats the question",
    "repeats_previous_answer": "the answer repeats the previous answer instead of answering this question",
}


def support_reason(sentences: Sequence[SentenceSupport], degeneration: Sequence[Degeneration]) -> str:
    parts = [_DEGENERATION_WORDS[d] for d in degeneration]
    if not sentences:
        parts.append("the answer makes no claim that a passage could support")
        return "; ".join(parts)
    unsupported = [s for s in sentences if not s.supported]
    if unsupported:
        noun = "sentence" if len(sentences) == 1 else "sentences"
        verb = "is" if len(unsupported) == 1 else "are"  # "1 of 2 sentences is", "2 of 3 … are"
        text = f"{len(unsupported)} of {len(sentences)} {noun} {verb} not supported by the cited passage"
        if any(not s.numbers_ok for s in unsupported):
            text += " (a number in the answer is not in the passage)"
        parts.append(text)
    else:
        parts.append(
            "the answer sentence is supported by its passage"
            if len(sentences) == 1
            else f"all {len(sentences)} answer sentences are supported by their passages"
        )
    return "; ".join(parts)
