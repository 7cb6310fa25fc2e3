"""Human-graded accuracy per experiment variant, for the experiments metrics and the console.

Accuracy is the share of graded answers graded "correct", with the same Wilson interval and
"not enough data yet" rule as the other per-variant rates; "partly" counts as not correct and is
reported beside it. Counts only: never returns a question, an answer or a note.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.experiments.metrics import MIN_N, Estimate, wilson
from assistant.review.table import ReviewItemRow


@dataclass(frozen=True, slots=True)
class GradedAccuracy:
    variant: str  # or the capability, from graded_accuracy_by_capability
    graded: int
    correct: int
    partly: int
    wrong: int
    accuracy: Estimate


def graded_accuracy_by_variant(
    engine: Engine, experiment_id: str, *, min_n: int = MIN_N
) -> dict[str, GradedAccuracy]:
    """{variant: GradedAccuracy} over the experiment's graded review items (each item carries the
    variant its turn ran under, stored when the turn was offered to the queue)."""
    query = select(ReviewItemRow.variant, ReviewItemRow.grade).where(
        ReviewItemRow.experiment_id == experiment_id, col(ReviewItemRow.grade).is_not(None)
    )
    with Session(engine) as session:
        rows = session.exec(query).all()
    counts: dict[str, Counter[str]] = {}
    for variant, grade in rows:
        counts.setdefault(variant or "", Counter())[grade or ""] += 1
    return {variant: _accuracy(variant, c, min_n) for variant, c in sorted(counts.items())}


def _accuracy(variant: str, counts: Counter[str], min_n: int = MIN_N) -> GradedAccuracy:
    graded = counts["correct"] + counts["partly"] + counts["wrong"]
    return GradedAccuracy(
        variant=variant,
        graded=graded,
        correct=counts["correct"],
        partly=counts["partly"],
        wrong=counts["wrong"],
        accuracy=wilson(counts["correct"], graded, min_n=min_n),
    )


def graded_accuracy_by_capability(engine: Engine) -> dict[str, GradedAccuracy]:
    """{capability: GradedAccuracy} over every graded review item (the capability map's figure)."""
    query = select(ReviewItemRow.capability, ReviewItemRow.grade).where(col(ReviewItemRow.grade).is_not(None))
    with Session(engine) as session:
        rows = session.exec(query).all()
    counts: dict[str, Counter[str]] = {}
    for capability, grade in rows:
        counts.setdefault(capability, Counter())[grade or ""] += 1
    return {capability: _accuracy(capability, c) for capability, c in sorted(counts.items())}
