"""BM25 over chunk texts, incremental, persisted under the data directory and keyed by the registry.

The index is a cache of the committed chunks in Chroma: it stores the registry fingerprint it
was synced to; when that changes (after an ingest, a delete, or a crash) `knowledge.lexical_sync`
appends the new versions' postings and retires the old versions' rows, so a query after an ingest
costs the delta, not a rebuild. Scores are computed at query time from the postings and the live
corpus statistics (document count, frequencies, mean length), so they equal those of a full
rebuild (the Lucene BM25 variant bm25s uses, k1 1.5, b 0.75; tested against bm25s).
Access control is a boolean mask over all rows applied to the scores before top-k: a hidden chunk
can never take a top-k slot.
"""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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


@functools.lru_cache(maxsize=200_000)
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


K1 = 1.5
B = 0.75
# An empty token list still makes a row (a document of length 1), as bm25s did.
PLACEHOLDER_WORD = "\u2400"


class _Postings:
    """Row numbers and term counts of one term (or ACL token), appended in pieces, joined on read."""

    def __init__(self) -> None:
        self._rows: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []

    def append(self, rows: np.ndarray, counts: np.ndarray) -> None:
        self._rows.append(rows)
        self._counts.append(counts)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._rows) != 1:
            joined = (np.concatenate(self._rows), np.concatenate(self._counts))
            self._rows, self._counts = [joined[0]], [joined[1]]
        return self._rows[0], self._counts[0]


def _single(rows: np.ndarray, counts: np.ndarray) -> _Postings:
    postings = _Postings()
    postings.append(rows, counts)
    return postings


class LexicalIndex:
    """Postings per term, row lengths and liveness, ACL tokens per row (for the mask)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.fingerprint: str | None = None
        # A sync after an ingest grows several arrays; a search on another thread must not see
        # them half grown.
        self.lock = threading.RLock()
        self._clear()

    def _clear(self) -> None:
        self._chunk_ids: list[str] = []
        self._versions: list[str] = []
        self._lengths = np.zeros(0, dtype=np.float64)
        self._alive = np.zeros(0, dtype=bool)
        self._terms: dict[str, _Postings] = {}
        self._acl_rows: dict[str, _Postings] = {}
        self._row_of: dict[str, int] | None = None

    # -- writing -------------------------------------------------------------------------

    def build(
        self,
        fingerprint: str,
        chunk_ids: Sequence[str],
        texts: Sequence[str],
        acls: Sequence[list[str]],
        versions: Sequence[str] | None = None,
    ) -> None:
        """A full rebuild (first start, or an unreadable index); `versions` default to the id prefix."""
        self._clear()
        self.add(chunk_ids, texts, acls, versions)
        self.fingerprint = fingerprint
        self.save()

    def add(
        self,
        chunk_ids: Sequence[str],
        texts: Sequence[str],
        acls: Sequence[list[str]],
        versions: Sequence[str] | None = None,
    ) -> None:
        """Append rows (live at once); the caller saves and sets the fingerprint."""
        with self.lock:
            if not chunk_ids:
                return
            first = len(self._chunk_ids)
            self._row_of = None
            token_lists = [lexical_tokens(t) or [PLACEHOLDER_WORD] for t in texts]
            self._chunk_ids += list(chunk_ids)
            self._versions += (
                list(versions) if versions is not None else [c.rsplit(":", 1)[0] for c in chunk_ids]
            )
            lengths = np.asarray([len(tokens) for tokens in token_lists], dtype=np.float64)
            self._lengths = np.concatenate([self._lengths, lengths])
            self._alive = np.concatenate([self._alive, np.ones(len(chunk_ids), dtype=bool)])
            _append_grouped(self._terms, ((first + i, Counter(t)) for i, t in enumerate(token_lists)))
            _append_grouped(self._acl_rows, ((first + i, Counter(a)) for i, a in enumerate(acls)))

    def remove_versions(self, version_ids: Iterable[str]) -> int:
        """Retire every row of these versions (they stop counting in scores and statistics)."""
        with self.lock:
            gone = set(version_ids)
            rows = [i for i, version in enumerate(self._versions) if version in gone and self._alive[i]]
            self._alive[rows] = False
            return len(rows)

    def versions(self) -> set[str]:
        return {v for v, alive in zip(self._versions, self._alive, strict=True) if alive}

    # -- persistence -----------------------------------------------------------------------

    def save(self) -> None:
        with self.lock:
            # Write to a sibling directory, then swap: a crash mid-save leaves the old index or none.
            staging = self.directory.with_name(self.directory.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            terms, term_arrays = _flatten(self._terms, "t")
            tokens, acl_arrays = _flatten(self._acl_rows, "a")
            arrays: dict[str, Any] = {
                "lengths": self._lengths,
                "alive": self._alive,
                **term_arrays,
                **acl_arrays,
            }
            np.savez(staging / "index.npz", **arrays)
            manifest = {
                "format": 2,
                "fingerprint": self.fingerprint,
                "chunk_ids": self._chunk_ids,
                "versions": self._versions,
                "terms": terms,
                "acl_tokens": tokens,
            }
            (staging / "manifest.json").write_text(json.dumps(manifest))
            shutil.rmtree(self.directory, ignore_errors=True)
            staging.rename(self.directory)

    def load(self) -> bool:
        """Load the persisted index; False when there is none (or it is unreadable or old)."""
        try:
            data = json.loads((self.directory / "manifest.json").read_text())
            if data.get("format") != 2:
                return False
            with np.load(self.directory / "index.npz") as arrays:
                self._chunk_ids, self._versions = data["chunk_ids"], data["versions"]
                self._row_of = None
                self._lengths, self._alive = arrays["lengths"], arrays["alive"].astype(bool)
                self._terms = _unflatten(data["terms"], arrays, "t")
                self._acl_rows = _unflatten(data["acl_tokens"], arrays, "a")
            self.fingerprint = data["fingerprint"]
        except (OSError, ValueError, KeyError):
            self._clear()
            self.fingerprint = None
            return False
        return True

    # -- reading ---------------------------------------------------------------------------

    def mask_for(self, allowed_tokens: set[str] | None) -> np.ndarray:
        """Live chunks the principal may see; None means every live one (an allowed admin bypass)."""
        if allowed_tokens is None:
            return self._alive.copy()
        mask = np.zeros(len(self._chunk_ids), dtype=bool)
        for token in allowed_tokens:
            postings = self._acl_rows.get(token)
            if postings is not None:
                mask[postings.arrays()[0]] = True
        return mask & self._alive

    def readable(self, chunk_ids: Sequence[str], allowed_tokens: set[str] | None) -> list[bool]:
        """Which of these chunks the principal may read, by the same ACL rows as the mask.

        A chunk this index does not hold (not committed, or not synced yet) is not readable."""
        with self.lock:
            if self._row_of is None:
                self._row_of = {chunk_id: row for row, chunk_id in enumerate(self._chunk_ids)}
            mask = self.mask_for(allowed_tokens)
            rows = [self._row_of.get(chunk_id) for chunk_id in chunk_ids]
            return [row is not None and bool(mask[row]) for row in rows]

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 of every row (dead rows 0) with the live corpus statistics."""
        scores = np.zeros(len(self._chunk_ids), dtype=np.float64)
        live = int(self._alive.sum())
        if live == 0:
            return scores
        average = float(self._lengths[self._alive].mean())
        for token in tokens:
            postings = self._terms.get(token)
            if postings is None:
                continue
            rows, counts = postings.arrays()
            keep = self._alive[rows]
            rows, counts = rows[keep], counts[keep]
            if len(rows) == 0:
                continue
            idf = math.log(1 + (live - len(rows) + 0.5) / (len(rows) + 0.5))
            norm = K1 * (1 - B + B * self._lengths[rows] / average)
            scores[rows] += idf * counts / (counts + norm)
        return scores

    def search(self, query: str, *, allowed_tokens: set[str] | None, k: int) -> list[LexicalHit]:
        with self.lock:
            tokens = lexical_tokens(query)
            if not tokens or not len(self):
                return []
            # The ACL mask goes into the scoring itself: hidden chunks score 0 and can't take a top-k slot.
            scores = self.scores(tokens) * self.mask_for(allowed_tokens)
            take = min(k, int(np.count_nonzero(scores > 0)))
            if take <= 0:
                return []
            top = np.argpartition(-scores, take - 1)[:take]
            top = top[np.lexsort((top, -scores[top]))]
            return [LexicalHit(chunk_id=self._chunk_ids[i], score=float(scores[i])) for i in top]

    def __len__(self) -> int:
        return int(self._alive.sum())


def _append_grouped(target: dict[str, _Postings], rows: Iterable[tuple[int, Counter[str]]]) -> None:
    """Group (row, token counts) by token and append one piece per token."""
    grouped: dict[str, tuple[list[int], list[int]]] = {}
    for row, counts in rows:
        for token, count in counts.items():
            entry = grouped.setdefault(token, ([], []))
            entry[0].append(row)
            entry[1].append(count)
    for token, (row_list, count_list) in grouped.items():
        target.setdefault(token, _Postings()).append(
            np.asarray(row_list, dtype=np.int64), np.asarray(count_list, dtype=np.float64)
        )


def _flatten(postings: dict[str, _Postings], prefix: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """All postings as three arrays (rows, counts, offsets) plus the names in offset order."""
    names = sorted(postings)
    pieces = [postings[name].arrays() for name in names]
    offsets = np.cumsum([0] + [len(rows) for rows, _ in pieces], dtype=np.int64)
    rows = np.concatenate([r for r, _ in pieces]) if pieces else np.zeros(0, dtype=np.int64)
    counts = np.concatenate([c for _, c in pieces]) if pieces else np.zeros(0, dtype=np.float64)
    return names, {f"{prefix}_rows": rows, f"{prefix}_counts": counts, f"{prefix}_offsets": offsets}


def _unflatten(names: list[str], arrays: Any, prefix: str) -> dict[str, _Postings]:
    rows, counts = arrays[f"{prefix}_rows"], arrays[f"{prefix}_counts"]
    offsets = arrays[f"{prefix}_offsets"]
    if len(offsets) != len(names) + 1:
        raise ValueError("lexical index arrays do not match the manifest")
    return {
        name: _single(rows[offsets[i] : offsets[i + 1]], counts[offsets[i] : offsets[i + 1]])
        for i, name in enumerate(names)
    }
