"""Fitting the answerability weights and the rerank fusion: small logistic regressions, judged held-out.

Deliberately small (four signals, L2-regularised) so it cannot memorise questions. The figure to
trust is the leave-one-article-out AUROC: each article's questions are scored by weights fitted
on the other articles only, which is what held-out documents of the same kind will see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from knowledge.evaluation import CandidateSet, QuestionOutcome, auroc
from knowledge.rerank import FEATURES as RERANK_FEATURES
from knowledge.rerank import FusionWeights

FEATURES = ("w_dense", "w_lexical", "w_coverage", "w_agreement")


class Calibration(BaseModel):
    model_config = ConfigDict(frozen=True)

    weights: dict[str, float]
    held_out_auroc: float
    in_sample_auroc: float


def _fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 3000, rate: float = 0.5) -> np.ndarray:
    """Logistic regression by gradient descent on standardised features; returns raw-scale weights."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / std
    w = np.zeros(z.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= rate * (z.T @ (p - y) / len(y) + l2 * w)
        b -= rate * float(np.mean(p - y))
    raw = w / std
    return np.concatenate([[b - float(raw @ mean)], raw])


def _score(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(coef[0] + x @ coef[1:])))


def fit_answerability(outcomes: Sequence[QuestionOutcome]) -> Calibration:
    x = np.asarray([o.signals for o in outcomes], dtype=np.float64)
    y = np.asarray([1.0 if o.answerable else 0.0 for o in outcomes])
    articles = np.asarray([o.article for o in outcomes])
    held_out = np.zeros(len(outcomes))
    for article in sorted(set(articles)):
        test = articles == article
        held_out[test] = _score(_fit(x[~test], y[~test]), x[test])
    coef = _fit(x, y)
    in_sample = _score(coef, x)
    weights = {"bias": round(float(coef[0]), 3)} | {
        name: round(float(value), 3) for name, value in zip(FEATURES, coef[1:], strict=True)
    }
    return Calibration(
        weights=weights,
        held_out_auroc=auroc(list(held_out[y == 1]), list(held_out[y == 0])),
        in_sample_auroc=auroc(list(in_sample[y == 1]), list(in_sample[y == 0])),
    )


# -- rerank fusion ---------------------------------------------------------------------------


def _rerank_rows(sets: Sequence[CandidateSet], columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    x = np.vstack([np.asarray(s.features, dtype=np.float64)[:, columns] for s in sets if s.features])
    y = np.concatenate([[i == s.gold for i in range(len(s.features))] for s in sets if s.features])
    return x, y.astype(np.float64)


def fit_rerank_fusion(
    train: Sequence[CandidateSet], *, late_interaction: bool, trained_on: str
) -> FusionWeights:
    """Pointwise logistic regression (is this candidate the gold passage?) on the training sets only.

    Every candidate of every training question is a row, so the probability is calibrated over
    the candidate lists retrieval really produces. MaxSim columns get weight 0 unless asked for.
    """
    columns = [i for i, name in enumerate(RERANK_FEATURES) if late_interaction or "maxsim" not in name]
    x, y = _rerank_rows([s for s in train if s.answerable], columns)
    coef = _fit(x, y)
    weights = np.zeros(len(RERANK_FEATURES))
    weights[columns] = coef[1:]
    return FusionWeights(
        features=RERANK_FEATURES,
        bias=round(float(coef[0]), 6),
        weights=tuple(round(float(w), 6) for w in weights),
        trained_on=trained_on,
    )
