"""Which turns are sampled for review: a hash of the turn id against the capability's share.

Deterministic (the same turn is always in or out, so a retry never doubles an item) and
independent of who asked. Never random, never reads the turn's content.
"""

from __future__ import annotations

import hashlib


def sampled(turn_id: str, share: float) -> bool:
    if share <= 0.0:
        return False
    if share >= 1.0:
        return True
    digest = hashlib.sha256(b"review:" + turn_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
