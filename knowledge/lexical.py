"""BM25 over chunk texts (bm25s), persisted under the data directory and keyed by the registry.

The index is a cache of the committed chunks in Chroma: it stores the registry fingerprint it
was built from and is rebuilt whenever that changes (after an ingest, a delete, or a crash), so
it can never disagree with the store for long and never needs its own crash recovery.
Access control is a boolean mask over all chunks applied to the scores before top-k.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

_TOKEN = re.compile(r"\w+", re.UNICODE)
# A small English stop list: BM25's IDF handles the rest, and numbers/ids must survive.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def lexical_tokens(text: str) -> list[str]:
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def _stem(token: str) -> str:
    """A deliberately tiny suffix stripper (plural/-ing/-ed): cheap, deterministic, language-light."""
    if len(token) > 4 and not token.isdigit():
        for suffix in ("ies", "ing", "ed", "es", "s"):
            if token.endswith(suffix) and len(token) - len(suffix) >= 3:
                return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


class LexicalHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    chunk_id: str
    score: float


class LexicalIndex:
    """bm25s index plus, per chunk, its id and ACL tokens (for the mask)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.fingerprint: str | None = None
        self._chunk_ids: list[str] = []
        self._acl_rows: dict[str, np.ndarray] = {}
        self._model: object | None = None

    def build(
        self, fingerprint: str, chunk_ids: Sequence[str], texts: Sequence[str], acls: Sequence[list[str]]
    ) -> None:
        import bm25s

        model = bm25s.BM25()
        if texts:
            # An empty token list would give bm25s an empty document; keep a placeholder token.
            model.index([lexical_tokens(t) or ["\u2400"] for t in texts], show_progress=False)
        self._model = model if texts else None
        self._chunk_ids = list(chunk_ids)
        self._acl_rows = _invert(acls)
        self.fingerprint = fingerprint
        self._save()

    def load(self) -> bool:
        """Load the persisted index; False when there is none (or it is unreadable)."""
        manifest = self.directory / "manifest.json"
        if not manifest.is_file():
            return False
        try:
            import bm25s

            data = json.loads(manifest.read_text())
            self._chunk_ids = data["chunk_ids"]
            self._acl_rows = {k: np.asarray(v, dtype=np.int64) for k, v in data["acl_rows"].items()}
            self._model = bm25s.BM25.load(str(self.directory / "bm25")) if self._chunk_ids else None
            self.fingerprint = data["fingerprint"]
        except (OSError, ValueError, KeyError):
            self.fingerprint = None
            return False
        return True

    def _save(self) -> None:
        # Write to a sibling directory, then swap: a crash mid-save leaves the old index or none.
        staging = self.directory.with_name(self.directory.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if self._model is not None:
            self._model.save(str(staging / "bm25"))  # type: ignore[attr-defined]
        manifest = {
            "fingerprint": self.fingerprint,
            "chunk_ids": self._chunk_ids,
            "acl_rows": {k: v.tolist() for k, v in self._acl_rows.items()},
        }
        (staging / "manifest.json").write_text(json.dumps(manifest))
        shutil.rmtree(self.directory, ignore_errors=True)
        staging.rename(self.directory)

    def mask_for(self, allowed_tokens: set[str] | None) -> np.ndarray:
        """Which chunks the principal may see; None means everything (an allowed admin bypass)."""
        if allowed_tokens is None:
            return np.ones(len(self._chunk_ids), dtype=bool)
        mask = np.zeros(len(self._chunk_ids), dtype=bool)
        for token in allowed_tokens:
            rows = self._acl_rows.get(token)
            if rows is not None:
                mask[rows] = True
        return mask

    def search(self, query: str, *, allowed_tokens: set[str] | None, k: int) -> list[LexicalHit]:
        tokens = lexical_tokens(query)
        if self._model is None or not tokens:
            return []
        # The ACL mask goes into the scoring itself: hidden chunks score 0 and can't take a top-k slot.
        mask = self.mask_for(allowed_tokens).astype(np.float32)
        scores = np.asarray(self._model.get_scores(tokens, weight_mask=mask), dtype=np.float64)  # type: ignore[attr-defined]
        positive = int(np.count_nonzero(scores > 0))
        take = min(k, positive)
        if take == 0:
            return []
        top = np.argpartition(-scores, take - 1)[:take]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [LexicalHit(chunk_id=self._chunk_ids[i], score=float(scores[i])) for i in top]

    def __len__(self) -> int:
        return len(self._chunk_ids)


def _invert(acls: Sequence[list[str]]) -> dict[str, np.ndarray]:
    rows: dict[str, list[int]] = {}
    for index, tokens in enumerate(acls):
        for token in tokens:
            rows.setdefault(token, []).append(index)
    return {token: np.asarray(indices, dtype=np.int64) for token, indices in rows.items()}
