"""The learned contextual layer: disclosures that carry no detectable value.

"The condition I've had since childhood, the sugar one" has no identifier and no topic phrase, yet
it discloses health information. A small head (multinomial logistic regression, trained by
`routing.train_contextual` on the authored dataset in `tests/data/sensitivity/`) reads the local
MiniLM sentence embedding and gives a calibrated probability per DLP category and "none".

It runs in process, on the local embedder only; it never sends text anywhere. It must never fail
open: a missing or corrupt head, a head trained for another embedder, or any error while scoring
raises `ContextualError`, which the gate turns into a `regulated` decision with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from routing.disclosure_cues import why_classifier_alone_cannot_flag
from routing.tiers import Tier

NONE_LABEL = "none"
DEFAULT_HEAD_RESOURCE = "data/contextual_head.npz"

# Rows in, one unit vector per row out (`models.embeddings.OnnxMiniLMEmbedder.embed_array`).
EmbedArray = Callable[[Sequence[str]], np.ndarray]


def is_general_question(text: str) -> bool:
    """A verdict the classifier may not give alone: a message with no content word, a question or
    how-to request with no disclosure cue ("How do I reset my password?"), or a statement about a
    form or policy that names no individual. The classifier reads words, and such messages share
    the words of disclosures without disclosing anything (the name is kept for the policy's
    `skip_general_questions` switch)."""
    return why_classifier_alone_cannot_flag(text) is not None


class ContextualError(Exception):
    """The contextual layer cannot give a verdict; the message names why, never the input."""


class ContextualFinding(BaseModel):
    """The classifier's verdict in a decision: category, calibrated probability, the tier it forces."""

    model_config = ConfigDict(frozen=True)

    category: str
    score: float
    tier: Tier

    def reason(self) -> str:
        return (
            f"implied {self.category} information, classifier {self.score:.2f} "
            f"→ {self.tier.value} by rule contextual:{self.category}"
        )


@dataclass(frozen=True)
class ContextualHead:
    """Weights of the head and what they were trained for; `temperature` comes from calibration."""

    labels: tuple[str, ...]
    weights: np.ndarray  # (dimension, labels)
    bias: np.ndarray  # (labels,)
    temperature: float
    embedder_sha256: str

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = (vectors @ self.weights + self.bias) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def save(self, path: Path) -> None:
        np.savez(
            path, labels=np.array(self.labels), weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32), temperature=np.array(self.temperature),
            embedder_sha256=np.array(self.embedder_sha256),
        )  # fmt: skip


def load_head(path: Path | None = None) -> ContextualHead:
    """The head at `path` (default: the shipped one); any problem is a `ContextualError`."""
    try:
        source = path or Path(str(resources.files("routing").joinpath(DEFAULT_HEAD_RESOURCE)))
        with np.load(source, allow_pickle=False) as data:
            head = ContextualHead(
                labels=tuple(str(label) for label in data["labels"]),
                weights=np.asarray(data["weights"], dtype=np.float32),
                bias=np.asarray(data["bias"], dtype=np.float32),
                temperature=float(data["temperature"]),
                embedder_sha256=str(data["embedder_sha256"]),
            )
    except Exception as exc:
        raise ContextualError(f"contextual head unreadable ({type(exc).__name__})") from None
    _check_shape(head)
    return head


def _check_shape(head: ContextualHead) -> None:
    labels = len(head.labels)
    if NONE_LABEL not in head.labels or labels < 2:
        raise ContextualError("contextual head has no 'none' label")
    if head.weights.ndim != 2 or head.weights.shape[1] != labels or head.bias.shape != (labels,):
        raise ContextualError("contextual head weights do not match its labels")
    if not (np.isfinite(head.weights).all() and np.isfinite(head.bias).all() and head.temperature > 0):
        raise ContextualError("contextual head has non-finite weights")


class ContextualClassifier:
    """Scores a text: the most likely sensitive category and its calibrated probability."""

    def __init__(self, head: ContextualHead, embed: EmbedArray, *, embedder_sha256: str) -> None:
        if embedder_sha256 != head.embedder_sha256:
            raise ContextualError("contextual head was trained for another embedding model")
        self._head = head
        self._embed = embed

    def best(self, text: str) -> tuple[str, float]:
        """(likeliest sensitive category, calibrated probability that the text is sensitive)."""
        return self.best_many([text])[0]

    def best_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """`best` of each text, embedded in one batch (the embedder pads each batch and masks the
        padding, so a text's vector is the one it gets alone); any error fails the whole batch."""
        if not texts:
            return []
        try:
            vectors = np.asarray(self._embed(list(texts)), dtype=np.float32)
        except Exception as exc:
            raise ContextualError(f"contextual classifier error ({type(exc).__name__})") from None
        if vectors.ndim != 2 or vectors.shape != (len(texts), self._head.weights.shape[0]):
            raise ContextualError("contextual classifier gave no usable score")
        # The head row by row: a matrix product over the batch may round differently from one row.
        return [self._verdict(vectors[row : row + 1]) for row in range(len(texts))]

    def _verdict(self, vector: np.ndarray) -> tuple[str, float]:
        try:
            probabilities = self._head.probabilities(vector)[0]
        except Exception as exc:
            raise ContextualError(f"contextual classifier error ({type(exc).__name__})") from None
        if not np.isfinite(probabilities).all():
            raise ContextualError("contextual classifier gave no usable score")
        # The score is P(sensitive) = 1 - P(none); the category is the likeliest sensitive one.
        order = [i for i in np.argsort(-probabilities) if self._head.labels[i] != NONE_LABEL]
        none = probabilities[self._head.labels.index(NONE_LABEL)]
        return self._head.labels[order[0]], float(1.0 - none)


class UnavailableContextual:
    """Stands in for a classifier that could not be built: every verdict fails closed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def best(self, text: str) -> tuple[str, float]:
        raise ContextualError(self.reason)

    def best_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        raise ContextualError(self.reason)


def build_contextual(head_path: Path | None = None) -> ContextualClassifier | UnavailableContextual:
    """The production classifier on the local MiniLM embedder; never raises (fails closed later)."""
    try:
        from models.embeddings import OnnxMiniLMEmbedder

        embedder = OnnxMiniLMEmbedder()
        return ContextualClassifier(
            load_head(head_path), embedder.embed_array, embedder_sha256=embedder.model_sha256
        )
    except ContextualError as exc:
        return UnavailableContextual(str(exc))
    except Exception as exc:
        return UnavailableContextual(f"contextual classifier unavailable ({type(exc).__name__})")
