"""Verified API keys, remembered for a few seconds so a client's next requests skip the database.

Verifying a key is a database read of the key, its owner and the owner's groups (and, once a
minute, a "last used" write) in a worker thread: about a millisecond of CPU and two thread hops
in front of every answer's first byte. A client that sends requests back to back presents the
same key each time, so the verified key is kept for `ttl_s` seconds, keyed by the token's sha256
(the secret itself is never a key here, nor logged).

The bound this keeps: a key revoked or expired, or whose owner is disabled or changes groups, is
refused (or acts with the new groups) at most `ttl_s` seconds later, in every process, since each
process re-reads the database once its entry is that old. An expiry that passes while the key is
remembered is honoured at once. Failures are never remembered: a refused key is read again on
every request, so a key created a moment ago works at once, and guessing gains nothing.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from assistant.governance.api_keys import AuthorizedKey
from assistant.governance.tables import utcnow

TTL_S = 5.0  # at most this long until a revoked key is refused
MAX_ENTRIES = 1024


@dataclass(frozen=True, slots=True)
class _Entry:
    key: AuthorizedKey
    until: float


class VerifiedKeys:
    """`authorize(token)` through a short, bounded, thread-safe memory of keys verified lately."""

    def __init__(
        self,
        authorize: Callable[[str], AuthorizedKey | None],
        *,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._authorize = authorize
        self._ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def remembered(self, token: str) -> AuthorizedKey | None:
        """The key if it was verified less than `ttl_s` ago and has not expired since (no I/O)."""
        digest = _digest(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry.until <= self._clock() or _expired(entry.key):
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry.key

    def authorize(self, token: str) -> AuthorizedKey | None:
        """The remembered key, else the database's answer (remembered only when it is a key)."""
        key = self.remembered(token)
        if key is not None:
            return key
        key = self._authorize(token)
        if key is not None:
            with self._lock:
                self._entries[_digest(token)] = _Entry(key, self._clock() + self._ttl_s)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return key


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _expired(key: AuthorizedKey) -> bool:
    expires = key.key.expires_at
    return expires is not None and expires <= utcnow()
