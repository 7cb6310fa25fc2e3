"""The gate's answers for texts it has just classified, so the same text is not analysed twice.

One chat turn used to run the whole gate (Presidio/spaCy, the token NER, the classifier) more than
once on the same text: the message for the turn and again for the thread's title, a resumed
chat's history again on every resume, the API's taint pass and then the pipeline. The gate is a
pure function of (policy, source, text), so `DecisionMemo` keeps its recent results, keyed by the
text's sha256 and the source, for the policy that produced them; a new policy empties it.

What it must never do: remember a decision that failed closed (a timeout or an error must be
retried, not repeated), outlive the policy it was made under, or keep the texts themselves as
keys (only their digests). A decision carries entity types and offsets, never values.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing.gate import GateDecision


class DecisionMemo:
    """A bounded, thread-safe, least-recently-used memo of the gate's decisions."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, bytes], GateDecision] = OrderedDict()
        self._policy: object | None = None
        self._lock = threading.Lock()
        self.hits = 0

    @staticmethod
    def _key(source: str, text: str) -> tuple[str, bytes]:
        return source, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()

    def get(self, policy: object, source: str, text: str) -> GateDecision | None:
        key = self._key(source, text)
        with self._lock:
            if policy is not self._policy:
                return None
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return found

    def put(self, policy: object, source: str, text: str, decision: GateDecision) -> None:
        if decision.failed_closed:
            return
        key = self._key(source, text)
        with self._lock:
            if policy is not self._policy:  # a reloaded policy: nothing of the old one applies
                self._entries.clear()
                self._policy = policy
            self._entries[key] = decision
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
