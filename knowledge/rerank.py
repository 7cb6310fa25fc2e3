"""Reranking of hybrid-retrieval candidates by a calibrated learned fusion of cheap signals.

No cross-encoder ships on PyPI with its weights, so the order is decided by a logistic regression
over signals computed from what retrieval already has (dense cosine, BM25, term coverage, exact
matches, section titles) plus, optionally, late interaction (ColBERT-style MaxSim over MiniLM token
vectors). The weights live in `knowledge/data/rerank_fusion.json` with how they were trained and a
sha256 of their content; a file that does not verify is refused, and retrieval then keeps its own
order. The probability a passage gets is calibrated on held-out questions (an answerability signal).

This module only reorders what it is given: it never adds a candidate, never drops one for access
reasons (access control stays inside the queries, see `retrieval`), and never calls a model
unless a token-vector source or the private model's relevance judge (`knowledge.relevance_judge`,
`rerank.judge = "auto"`, only when the fusion's signals disagree) is configured.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from knowledge.lexical import lexical_tokens
from knowledge.relevance_judge import RelevanceJudge
from knowledge.retrieval import RetrievedChunk, exact_terms, term_present
from knowledge.settings import RerankSettings
from models.base import YesNoJudge

_log = logging.getLogger(__name__)

FUSION_FILE = Path(__file__).parent / "data" / "rerank_fusion.json"
# The same fit with MaxSim columns: better ordering, but needs token vectors of every candidate.
FUSION_MAXSIM_FILE = Path(__file__).parent / "data" / "rerank_fusion_maxsim.json"

# Order matters: it is the column order of the feature matrix and of the weights file.
FEATURES: tuple[str, ...] = (
    "dense",
    "dense_missing",
    "dense_gap_top",
    "dense_gap_next",
    "bm25_rel",
    "bm25_missing",
    "coverage",
    "idf_coverage",
    "bigram",
    "exact",
    "title_match",
    "length",
    "prior",
    "maxsim",
    "maxsim_gap_top",
)

# Passage token vectors (one L2-normalised row per token) for MaxSim; None when not configured.
TokenVectors = Callable[[Sequence[str]], list[np.ndarray]]


class FusionWeights(BaseModel):
    """A fitted logistic regression over FEATURES, with the story of how it was fitted."""

    model_config = ConfigDict(frozen=True)

    features: tuple[str, ...]
    bias: float
    weights: tuple[float, ...]
    trained_on: str
    held_out: dict[str, float] = {}
    sha256: str = ""

    def content_digest(self) -> str:
        payload = json.dumps([list(self.features), self.bias, list(self.weights)], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def uses_maxsim(self) -> bool:
        return any(w != 0.0 for f, w in zip(self.features, self.weights, strict=True) if "maxsim" in f)


class FusionFileError(ValueError):
    """The weights file is missing, malformed, for other features, or its digest does not match."""


def load_fusion(path: Path = FUSION_FILE) -> FusionWeights:
    try:
        fusion = FusionWeights.model_validate_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise FusionFileError(f"{path}: {exc}") from exc
    if fusion.features != FEATURES or len(fusion.weights) != len(FEATURES):
        raise FusionFileError(f"{path}: features {fusion.features} are not {FEATURES}")
    if fusion.sha256 != fusion.content_digest():
        raise FusionFileError(f"{path}: sha256 does not match its weights")
    return fusion


def save_fusion(fusion: FusionWeights, path: Path = FUSION_FILE) -> FusionWeights:
    signed = fusion.model_copy(update={"sha256": fusion.content_digest()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(signed.model_dump_json(indent=2) + "\n")
    return signed


def maxsim(query_vectors: np.ndarray, passage_vectors: np.ndarray) -> float:
    """Mean over query tokens of the best cosine with any passage token (late interaction)."""
    if query_vectors.size == 0 or passage_vectors.size == 0:
        return 0.0
    # einsum, not `@`: right after an onnxruntime run, OpenBLAS's threads fight its spinning
    # workers for the two cores and 20 tiny matmuls took ~1 s; einsum stays on this thread (~2 ms).
    similarities = np.einsum("qd,pd->qp", query_vectors, passage_vectors)
    return float(similarities.max(axis=1).mean())


def feature_matrix(
    query: str, chunks: Sequence[RetrievedChunk], maxsims: Sequence[float] | None = None
) -> np.ndarray:
    """One row of FEATURES per candidate; every column is relative to this candidate list only."""
    n = len(chunks)
    x = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return x
    col = {name: i for i, name in enumerate(FEATURES)}
    _dense_columns(x, col, chunks)
    _lexical_columns(x, col, query, chunks)
    x[:, col["prior"]] = [1.0 / math.sqrt(rank) for rank in range(1, n + 1)]
    if maxsims is not None:
        sims = np.asarray(maxsims, dtype=np.float64)
        x[:, col["maxsim"]] = sims
        x[:, col["maxsim_gap_top"]] = sims - sims.max()
    return x


def _dense_columns(x: np.ndarray, col: dict[str, int], chunks: Sequence[RetrievedChunk]) -> None:
    known = [c.dense_similarity for c in chunks if c.dense_similarity is not None]
    # A BM25-only hit was not in the dense top-N: its cosine is below the lowest one seen.
    floor = (min(known) if known else 0.0) - 0.02
    dense = np.asarray([floor if c.dense_similarity is None else c.dense_similarity for c in chunks])
    x[:, col["dense"]] = dense
    x[:, col["dense_missing"]] = [c.dense_similarity is None for c in chunks]
    x[:, col["dense_gap_top"]] = dense - dense.max()
    ordered = np.sort(dense)[::-1]
    for i, value in enumerate(dense):
        lower = ordered[ordered < value]
        x[i, col["dense_gap_next"]] = value - lower[0] if lower.size else 0.0


def _lexical_columns(
    x: np.ndarray, col: dict[str, int], query: str, chunks: Sequence[RetrievedChunk]
) -> None:
    bm25 = np.asarray([c.bm25_score or 0.0 for c in chunks])
    x[:, col["bm25_rel"]] = bm25 / bm25.max() if bm25.max() > 0 else 0.0
    x[:, col["bm25_missing"]] = [c.bm25_score is None for c in chunks]
    ordered_words = lexical_tokens(query)
    words = set(ordered_words)
    bigrams = set(itertools.pairwise(ordered_words))
    passages = [lexical_tokens(c.text) for c in chunks]
    sets = [set(p) for p in passages]
    # Rarity among the candidates: a word every candidate has tells them apart not at all.
    idf = {w: math.log((len(chunks) + 1) / (1 + sum(w in s for s in sets))) + 0.1 for w in words}
    total_idf = sum(idf.values()) or 1.0
    terms = exact_terms(query)
    for i, chunk in enumerate(chunks):
        present = words & sets[i]
        x[i, col["coverage"]] = len(present) / len(words) if words else 0.0
        x[i, col["idf_coverage"]] = sum(idf[w] for w in present) / total_idf
        pairs = set(itertools.pairwise(passages[i]))
        x[i, col["bigram"]] = len(bigrams & pairs) / len(bigrams) if bigrams else 0.0
        x[i, col["exact"]] = sum(term_present(chunk.text, t) for t in terms) / len(terms) if terms else 0.0
        heading = set(lexical_tokens(f"{chunk.title} {chunk.section}"))
        x[i, col["title_match"]] = len(words & heading) / len(words) if words else 0.0
        x[i, col["length"]] = math.log1p(len(passages[i]))


def fusion_scores(fusion: FusionWeights, x: np.ndarray) -> np.ndarray:
    """Calibrated probability that each candidate holds the answer."""
    logits = fusion.bias + x @ np.asarray(fusion.weights, dtype=np.float64)
    return np.asarray(1.0 / (1.0 + np.exp(-logits)))


class Reranker:
    """Reorders candidates by the fused probability; ties keep retrieval's order (deterministic)."""

    def __init__(
        self,
        fusion: FusionWeights,
        *,
        query_vectors: Callable[[str], np.ndarray] | None = None,
        passage_vectors: TokenVectors | None = None,
        judge: RelevanceJudge | None = None,
    ) -> None:
        if fusion.uses_maxsim and (query_vectors is None or passage_vectors is None):
            # Zeros in place of MaxSim would silently reorder by the wrong scale: refuse instead.
            raise ValueError("this fusion uses late interaction: give query and passage token vectors")
        self.fusion = fusion
        self._query_vectors = query_vectors
        self._passage_vectors = passage_vectors
        self.judge = judge

    def rerank(self, query: str, chunks: Sequence[RetrievedChunk]) -> list[RetrievedChunk]:
        if len(chunks) < 2:
            return list(chunks)
        probability = fusion_scores(self.fusion, feature_matrix(query, chunks, self._maxsims(query, chunks)))
        order = sorted(range(len(chunks)), key=lambda i: (-probability[i], i))
        ranked = [chunks[i].model_copy(update={"rerank_score": float(probability[i])}) for i in order]
        if self.judge is None:
            return ranked
        return self.judge.apply(query, ranked)[0]

    def _maxsims(self, query: str, chunks: Sequence[RetrievedChunk]) -> list[float] | None:
        if self._query_vectors is None or self._passage_vectors is None:
            return None
        q = self._query_vectors(query)
        return [maxsim(q, p) for p in self._passage_vectors([c.text for c in chunks])]


class TokenVectorCache:
    """Passage token vectors by text, least recently used dropped first (thread-safe)."""

    def __init__(self, embedder: object, max_entries: int = 4096) -> None:
        self._embedder = embedder
        self._max = max_entries
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def query(self, text: str) -> np.ndarray:
        return token_vectors(self._embedder, [text])[0]

    def passages(self, texts: Sequence[str]) -> list[np.ndarray]:
        with self._lock:
            known = {t: self._entries[t] for t in texts if t in self._entries}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            # Computed outside the lock: a slow batch must not block readers of cached passages.
            known.update(zip(missing, token_vectors(self._embedder, missing), strict=True))
        with self._lock:
            for text in dict.fromkeys(texts):
                self._entries[text] = known[text]
                self._entries.move_to_end(text)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return [known[t] for t in texts]


def build_reranker(
    settings: RerankSettings, embedder: object, judge_model: YesNoJudge | None = None
) -> Reranker | None:
    """The configured reranker, or None (off, or its weights file does not verify: retrieval order).

    `judge_model` must be the private model: with `judge = "auto"` it reads the top passages.
    """
    if not settings.enabled:
        return None
    default = FUSION_MAXSIM_FILE if settings.late_interaction else FUSION_FILE
    try:
        fusion = _cached_fusion(settings.fusion_path or default)
    except FusionFileError as exc:
        _log.warning("reranking off: %s", exc)
        return None
    judge = None
    if settings.judge == "auto" and judge_model is not None:
        judge = RelevanceJudge(judge_model, settings.judge_settings)
    if not fusion.uses_maxsim:
        return Reranker(fusion, judge=judge)
    cache = _token_cache(embedder, settings.token_cache_entries)
    return Reranker(fusion, query_vectors=cache.query, passage_vectors=cache.passages, judge=judge)


@functools.lru_cache(maxsize=8)
def _cached_fusion(path: Path) -> FusionWeights:
    return load_fusion(path)


_CACHES: dict[int, TokenVectorCache] = {}


def _token_cache(embedder: object, entries: int) -> TokenVectorCache:
    # One cache per embedder object for the life of the process (retrievers are built per call).
    cache = _CACHES.get(id(embedder))
    if cache is None or cache._embedder is not embedder:
        cache = _CACHES[id(embedder)] = TokenVectorCache(embedder, entries)
    return cache


def token_vectors(embedder: object, texts: Sequence[str]) -> list[np.ndarray]:
    """Token vectors from an embedder that offers them (the MiniLM one in `models.embeddings` does)."""
    method = getattr(embedder, "token_vectors", None)
    if method is None:
        raise TypeError(f"{type(embedder).__name__} has no token vectors: late interaction needs MiniLM")
    return list(method(texts))
