"""The private model's yes/no relevance judgement of the fusion's top two passages, when needed.

The learned fusion (`knowledge.rerank`) orders the candidates. Only when its own outputs say the
call is close (the top two calibrated probabilities within a margin, or the passage with the
highest cosine not on top) does the local model read the question with each of the top two
passages and answer "does this passage answer the question?" from its next-token
log-probabilities (`models.yes_no`). The two are then reordered by
logit(fused probability) + weight * logit(P(yes)); the margin and weight are chosen on the
evaluation's train splits (`knowledge.evaluation`).

It never blocks an answer and never decides alone: a busy model, a timeout or any model error
leaves the fusion's order as it was (fail open to the fusion, which is itself a safe order).
It never changes which passages are candidates, only the order of the first two. The judge is
the private model, so it may read passages of any tier; it must never be given a hosted model.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from knowledge.retrieval import RetrievedChunk
from knowledge.settings import JudgeSettings
from models.base import ChatMessage, ModelBusy, ModelError, ModelTimeout, YesNoJudge, YesNoVerdict
from models.settings import LocalModelSettings

_log = logging.getLogger(__name__)

# The judgement changes the order of the fusion's top two and nothing below them.
JUDGED = 2
_EPSILON = 1e-6

SYSTEM_PROMPT = "You decide whether a passage answers a question. Reply with one word: Yes or No."

Reason = Literal["agree", "too_few", "busy", "timeout", "error", "judged"]


@dataclass(frozen=True, slots=True)
class Disagreement:
    """What the fusion's own outputs say about its top choice (positions are in fused order)."""

    margin: float
    dense_top: int
    close: bool
    dense_disagrees: bool

    @property
    def needs_judge(self) -> bool:
        return self.close or self.dense_disagrees


def disagreement(
    fused: Sequence[float], dense: Sequence[float | None], settings: JudgeSettings
) -> Disagreement:
    """`fused` and `dense` per candidate in the fusion's order (`fused` descending)."""
    margin = fused[0] - fused[1] if len(fused) > 1 else 1.0
    cosines = [-math.inf if d is None else d for d in dense]
    dense_top = max(range(len(cosines)), key=lambda i: (cosines[i], -i)) if cosines else 0
    return Disagreement(
        margin=margin,
        dense_top=dense_top,
        close=margin < settings.margin,
        dense_disagrees=settings.on_dense_disagreement and dense_top != 0,
    )


def _logit(p: float) -> float:
    p = min(max(p, _EPSILON), 1 - _EPSILON)
    return math.log(p / (1 - p))


def combined_score(fused: float, p_yes: float, weight: float) -> float:
    return _logit(fused) + weight * _logit(p_yes)


def judged_order(fused: Sequence[float], p_yes: Sequence[float], weight: float) -> list[int]:
    """The judged candidates' new order (indices into `fused`); ties keep the fusion's order."""
    scores = [combined_score(f, y, weight) for f, y in zip(fused, p_yes, strict=True)]
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def judge_messages(question: str, passage: str, max_chars: int) -> list[ChatMessage]:
    # The question before the passage: two judgements of one question share their prompt prefix,
    # which llama.cpp keeps in its cache, so the second pays only for its passage.
    text = " ".join(passage.split())[:max_chars]
    return [
        ChatMessage(role="system", content=SYSTEM_PROMPT),
        ChatMessage(
            role="user",
            content=f"Question: {question}\n\nPassage: {text}\n\n"
            "Does the passage answer the question? Reply Yes or No.",
        ),
    ]


@dataclass(frozen=True, slots=True)
class JudgeOutcome:
    """What the judge step did for one query (kept for the evaluation and the logs)."""

    reason: Reason
    disagreement: Disagreement | None = None
    verdicts: tuple[YesNoVerdict, ...] = ()
    swapped: bool = False

    @property
    def ran(self) -> bool:
        return self.reason == "judged"


class RelevanceJudge:
    """Runs the judgement on fused candidates when they disagree; bounded in time, fails open."""

    def __init__(
        self, model: YesNoJudge, settings: JudgeSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.model = model
        self.settings = settings
        self._clock = clock

    def apply(
        self, question: str, chunks: Sequence[RetrievedChunk]
    ) -> tuple[list[RetrievedChunk], JudgeOutcome]:
        """`chunks` in the fusion's order with their `rerank_score`; the order to use, and why."""
        ranked = list(chunks)
        if len(ranked) < JUDGED or any(c.rerank_score is None for c in ranked[:JUDGED]):
            return ranked, JudgeOutcome("too_few")
        fused = [float(c.rerank_score or 0.0) for c in ranked]
        seen = disagreement(fused, [c.dense_similarity for c in ranked], self.settings)
        if not seen.needs_judge:
            return ranked, JudgeOutcome("agree", seen)
        reason, verdicts = self.verdicts(question, [c.text for c in ranked[:JUDGED]])
        if reason != "judged":
            return ranked, JudgeOutcome(reason, seen, verdicts)
        order = judged_order(fused[:JUDGED], [v.p_yes for v in verdicts], self.settings.weight)
        reordered = [ranked[i] for i in order] + ranked[JUDGED:]
        return reordered, JudgeOutcome("judged", seen, verdicts, swapped=order != list(range(JUDGED)))

    def verdicts(self, question: str, passages: Sequence[str]) -> tuple[Reason, tuple[YesNoVerdict, ...]]:
        """One verdict per passage within the time budget, or the reason there are none."""
        if not self.model.idle():
            return "busy", ()
        deadline = self._clock() + self.settings.timeout_s
        found: list[YesNoVerdict] = []
        for passage in passages:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return "timeout", tuple(found)
            messages = judge_messages(question, passage, self.settings.max_passage_chars)
            try:
                found.append(self.model.judge_yes_no(messages, timeout_s=remaining))
            except ModelTimeout:
                return "timeout", tuple(found)
            except ModelBusy:
                return "busy", tuple(found)
            except ModelError as exc:
                _log.warning("relevance judge failed, fusion order kept: %s", exc)
                return "error", tuple(found)
        return "judged", tuple(found)


def private_judge(settings: LocalModelSettings, data_dir: Path) -> YesNoJudge:
    """A yes/no judge on the private model as configured: its server, else llama.cpp in process.

    For tools that run without the app (evaluations); the app gives its own local model, whose
    worker and fair queue it shares with chat turns.
    """
    if settings.server_url:
        from models.yes_no import ServerYesNoJudge

        key = settings.server_api_key.get_secret_value() if settings.server_api_key else None
        return ServerYesNoJudge(settings.server_url, settings.server_model, api_key=key)
    from models.assembled import resolve_local_gguf
    from models.local import LocalModel

    return LocalModel(resolve_local_gguf(settings, data_dir), settings)


def judge_of(model: object) -> YesNoJudge | None:
    """The yes/no judge inside a private chat model's wrappers (loop guard, ...), if it has one.

    For the app: `knowledge.judge_model = judge_of(models.local)`. Never pass a hosted model.
    """
    seen = model
    for _ in range(8):  # wrappers nest a few deep; a cycle must not hang start-up
        if isinstance(seen, YesNoJudge):
            return seen
        seen = getattr(seen, "inner", None)
        if seen is None:
            return None
    return None
