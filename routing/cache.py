"""An exact-match answer cache for public-tier turns only, in memory, per process.

Keyed by (user, normalized question, document-set version, model, prompt version): an answer is
reused only for the same person asking the same thing against the same documents with the same
model and prompt. Entries expire after a TTL; the least recently used go first beyond the size
bound. Internal and regulated turns are never stored and never looked up: `put` refuses them and
`get` answers None for them, so the cache can never hand one person's sensitive answer to anyone.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from routing.reliability_settings import ReliabilitySettings
from routing.tiers import Tier, highest

V = TypeVar("V")

_SPACE = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?!.]+$")


def normalize_question(question: str) -> str:
    """Case, Unicode form, runs of whitespace and trailing ?!. do not make a question different."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return _TRAILING.sub("", _SPACE.sub(" ", text).strip())


class CacheKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    question: str
    doc_set_version: str
    model: str
    prompt_version: str

    @classmethod
    def of(
        cls, *, user_id: str, question: str, doc_set_version: str, model: str, prompt_version: str
    ) -> CacheKey:
        return cls(
            user_id=user_id,
            question=normalize_question(question),
            doc_set_version=doc_set_version,
            model=model,
            prompt_version=prompt_version,
        )


class CacheStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    hits: int
    misses: int
    refused: int
    entries: int


class ResponseCache(Generic[V]):
    def __init__(
        self,
        *,
        ttl_s: float = 600.0,
        max_entries: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[CacheKey, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._refused = 0

    @classmethod
    def from_settings(cls, settings: ReliabilitySettings) -> ResponseCache[V]:
        return cls(ttl_s=settings.cache_ttl_s, max_entries=settings.cache_max_entries)

    @staticmethod
    def cacheable(tier: Tier | str) -> bool:
        # `highest` maps unknown strings to regulated: only a clear "public" is cacheable.
        return highest(tier) == Tier.PUBLIC

    def get(self, key: CacheKey, *, tier: Tier | str) -> V | None:
        if not self.cacheable(tier):
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self._clock():
                if entry is not None:
                    del self._entries[key]
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[1]

    def put(self, key: CacheKey, value: V, *, tier: Tier | str) -> bool:
        """Store a public-tier answer. Returns False (and stores nothing) for any other tier."""
        with self._lock:
            if not self.cacheable(tier):
                self._refused += 1
                return False
            self._entries[key] = (self._clock() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return True

    def invalidate_user(self, user_id: str) -> int:
        """Drop one user's entries (e.g. on account deletion); returns how many were dropped."""
        with self._lock:
            doomed = [key for key in self._entries if key.user_id == user_id]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                hits=self._hits, misses=self._misses, refused=self._refused, entries=len(self._entries)
            )
