"""How much to trust a grounded answer: a deterministic score, a level and a reason in words.

Before answering, `answerability` turns retrieval strength into a probability that the documents
hold the answer: a logistic function of the best dense similarity, the best BM25 score, how much
of the question the best passage covers, and whether the two retrievers agree. The weights live
in `ConfidenceSettings` and were fitted with `confidante eval-rag` on SQuAD 2.0 questions
(answerable vs unanswerable); they are a handful of numbers, not a model that memorises the set.
After answering, `answer_confidence` takes the minimum of that retrieval confidence and the
answer's own support (`knowledge.answer_support`): a strong passage never vouches for an answer
that does not say what the passage says, so a wrong-source answer cannot show "high".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from knowledge.answer_support import AnswerSupport
from knowledge.citations import CitationReport
from knowledge.retrieval import RetrievedChunk
from knowledge.settings import ConfidenceSettings

Level = Literal["high", "medium", "low"]
_RANK: dict[Level, int] = {"low": 0, "medium": 1, "high": 2}


class RetrievalSignals(BaseModel):
    model_config = ConfigDict(frozen=True)

    dense: float
    lexical: float
    coverage: float
    agreement: float

    def as_vector(self) -> list[float]:
        return [self.dense, self.lexical, self.coverage, self.agreement]


class Confidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: Level
    score: float
    reason: str


def retrieval_signals(chunks: Sequence[RetrievedChunk]) -> RetrievalSignals:
    if not chunks:
        return RetrievalSignals(dense=0.0, lexical=0.0, coverage=0.0, agreement=0.0)
    dense = max((c.dense_similarity for c in chunks if c.dense_similarity is not None), default=0.0)
    bm25 = max((c.bm25_score for c in chunks if c.bm25_score is not None), default=0.0)
    top = chunks[0]
    if top.dense_rank == 1 and top.bm25_rank == 1:
        agreement = 1.0
    elif top.dense_rank is not None and top.bm25_rank is not None:
        agreement = 0.5
    else:
        agreement = 0.0
    # log1p keeps BM25's open-ended scale comparable across corpora of different sizes.
    return RetrievalSignals(dense=dense, lexical=math.log1p(bm25), coverage=top.coverage, agreement=agreement)


def answerability(chunks: Sequence[RetrievedChunk], settings: ConfidenceSettings | None = None) -> float:
    """Probability-like score (0..1) that the retrieved passages contain the answer."""
    settings = settings or ConfidenceSettings()
    signals = retrieval_signals(chunks)
    if not chunks:
        return 0.0
    z = (
        settings.bias
        + settings.w_dense * signals.dense
        + settings.w_lexical * signals.lexical
        + settings.w_coverage * signals.coverage
        + settings.w_agreement * signals.agreement
    )
    return 1.0 / (1.0 + math.exp(-z))


def is_answerable(chunks: Sequence[RetrievedChunk], settings: ConfidenceSettings | None = None) -> bool:
    """False → answer "I couldn't find this in the documents you can access" plus the closest passages."""
    settings = settings or ConfidenceSettings()
    return answerability(chunks, settings) >= settings.answerable_threshold


def assess_confidence(
    chunks: Sequence[RetrievedChunk],
    report: CitationReport | None = None,
    settings: ConfidenceSettings | None = None,
) -> Confidence:
    settings = settings or ConfidenceSettings()
    retrieval = answerability(chunks, settings)
    signals = retrieval_signals(chunks)
    reasons = [_retrieval_reason(retrieval, signals, settings)]
    score = retrieval
    if report is not None:
        support = report.support_ratio
        # An answer without any valid citation is not grounded, whatever retrieval found.
        score = retrieval * (0.4 + 0.6 * support)
        reasons.append(_support_reason(report))
    level: Level = (
        "high"
        if score >= settings.high_threshold
        else "medium"
        if score >= settings.answerable_threshold
        else "low"
    )
    return Confidence(level=level, score=round(score, 3), reason="; ".join(reasons))


def _retrieval_reason(retrieval: float, signals: RetrievalSignals, settings: ConfidenceSettings) -> str:
    if retrieval < settings.answerable_threshold:
        return "no passage in your documents closely matches the question"
    strength = "strong" if retrieval >= settings.high_threshold else "partial"
    agree = ", and keyword and meaning search agree" if signals.agreement == 1.0 else ""
    return (
        f"{strength} match: the best passage covers {signals.coverage:.0%} of the question's key words{agree}"
    )


def _support_reason(report: CitationReport) -> str:
    if not report.citations:
        return "the answer cites no source"
    supported = sum(c.supported for c in report.citations)
    text = f"{supported} of {len(report.citations)} citations are supported by their passages"
    if report.invalid:
        text += f"; {len(report.invalid)} citation(s) pointed at no source and were removed"
    return text


def support_level(support: AnswerSupport) -> Level:
    """High only when every claim is strongly supported and the text is not degenerate."""
    if support.degeneration or support.score < 0.5:
        return "low"
    return "high" if support.all_strong else "medium"


def answer_confidence(
    chunks: Sequence[RetrievedChunk],
    support: AnswerSupport,
    settings: ConfidenceSettings | None = None,
) -> Confidence:
    """The badge after generation: the weaker of retrieval and answer support, with both reasons."""
    retrieval = assess_confidence(chunks, None, settings)
    answer_level = support_level(support)
    level = min(retrieval.level, answer_level, key=_RANK.__getitem__)
    # The weaker signal leads the reason: that is the one the user should read first.
    reasons = (
        [support.reason, retrieval.reason]
        if _RANK[answer_level] <= _RANK[retrieval.level]
        else [retrieval.reason, support.reason]
    )
    return Confidence(
        level=level, score=round(min(retrieval.score, support.score), 3), reason="; ".join(reasons)
    )
