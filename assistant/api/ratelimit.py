"""A per-key request rate limit: a token bucket refilled continuously, in this process.

Each key may make `rate_per_minute` requests a minute, with bursts up to the same number. Past
that the API answers 429 with `Retry-After` (the seconds until one request is allowed again).
Buckets live in memory: behind several replicas each replica enforces the limit on the requests
it serves (sticky routing by key keeps that exact).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, per_minute: int) -> float:
        """0.0 when a request may go ahead (and is counted), else the seconds to wait."""
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key) or _Bucket(float(per_minute), now)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            self._buckets[key] = bucket
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate
