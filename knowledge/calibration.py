"""Fitting the answerability weights: a 4-feature logistic regression, judged on held-out articles.

Deliberately small (four signals, L2-regularised) so it cannot memorise questions. The figure to
trust is the leave-one-article-out AUROC: each article's questions are scored by weights fitted
on the other articles only, which is what held-out documents of the same kind will see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from knowledge.evaluation import QuestionOutcome, auroc

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
