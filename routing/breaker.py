"""Circuit breakers, one per endpoint: stop calling an endpoint that keeps failing.

closed → open after `threshold` consecutive failures → half-open after `cooldown_s`, letting one
probe through → closed when the probe succeeds (open again when it fails). While open, calls fail
at once with `CircuitOpen` (a `ModelUnavailable` that is not worth retrying), so a fallback answers
without waiting for timeouts. State changes are guarded by a lock (the breaker is shared by event
loops and threads) and are observable through `snapshot()` for metrics and the dashboard. A
breaker never looks at request contents and never picks another model: fallbacks do that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from models.base import (
    ChatModel,
    ChatRequest,
    ModelAuthError,
    ModelError,
    ModelUnavailable,
    ModelWrapper,
    StreamEnd,
    StreamEvent,
)
from routing.reliability_settings import ReliabilitySettings
from routing.retry import closing_stream

BreakerStateName = Literal["closed", "open", "half_open"]


class CircuitOpen(ModelUnavailable):
    """Failing fast: the endpoint failed repeatedly and is being left alone for a while."""

    retryable = False


class BreakerState(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    state: BreakerStateName
    consecutive_failures: int
    opened_total: int
    # Seconds until a probe is allowed (only while open).
    retry_in_s: float | None = None


class CircuitBreaker:
    def __init__(
        self,
        key: str,
        *,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.key = key
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state: BreakerStateName = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._opened_total = 0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerStateName:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def snapshot(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._snapshot()

    def acquire(self) -> bool:
        """Ask to make a call. Raises `CircuitOpen` if not allowed; returns True for a probe call."""
        with self._lock:
            self._maybe_half_open()
            if self._state == "closed":
                return False
            if self._state == "half_open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            retry_in = max(0.0, self._opened_at + self.cooldown_s - self._clock())
            raise CircuitOpen(f"circuit open for {self.key}; next probe in {retry_in:.1f}s")

    def record_success(self, *, probe: bool = False) -> None:
        with self._lock:
            if probe:
                self._probe_in_flight = False
            self._failures = 0
            if self._state != "closed":
                self._set("closed")

    def record_failure(self, *, probe: bool = False) -> None:
        with self._lock:
            if probe:
                self._probe_in_flight = False
            self._failures += 1
            if self._state == "half_open" or self._failures >= self.threshold:
                self._opened_at = self._clock()
                if self._state != "open":
                    self._opened_total += 1
                self._set("open")

    def release(self, *, probe: bool = False) -> None:
        """A call ended without a verdict (cancelled by its consumer): free the probe slot."""
        if probe:
            with self._lock:
                self._probe_in_flight = False

    def _maybe_half_open(self) -> None:
        if self._state == "open" and self._clock() - self._opened_at >= self.cooldown_s:
            self._set("half_open")

    def _set(self, state: BreakerStateName) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(self._snapshot())

    def _snapshot(self) -> BreakerState:
        retry_in = None
        if self._state == "open":
            retry_in = max(0.0, self._opened_at + self.cooldown_s - self._clock())
        return BreakerState(
            key=self.key,
            state=self._state,
            consecutive_failures=self._failures,
            opened_total=self._opened_total,
            retry_in_s=retry_in,
        )


class BreakerRegistry:
    """One breaker per endpoint key (the base URL), created on first use; one per process."""

    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        def make(key: str) -> CircuitBreaker:
            return CircuitBreaker(
                key, threshold=threshold, cooldown_s=cooldown_s, clock=clock, on_change=on_change
            )

        self._make: Callable[[str], CircuitBreaker] = make
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: ReliabilitySettings, **kwargs: object) -> BreakerRegistry:
        return cls(
            threshold=settings.breaker_failure_threshold,
            cooldown_s=settings.breaker_cooldown_s,
            **kwargs,  # type: ignore[arg-type]
        )

    def for_endpoint(self, key: str) -> CircuitBreaker:
        key = key.rstrip("/")
        with self._lock:
            if key not in self._breakers:
                self._breakers[key] = self._make(key)
            return self._breakers[key]

    def snapshots(self) -> list[BreakerState]:
        with self._lock:
            breakers = list(self._breakers.values())
        return [breaker.snapshot() for breaker in breakers]


def counts_against_endpoint(error: ModelError) -> bool:
    """Failures of the endpoint (down, slow, unreadable, bad key), not refusals of one request."""
    return not isinstance(error, CircuitOpen) and (error.retryable or isinstance(error, ModelAuthError))


class BreakerModel(ModelWrapper):
    """Wraps a model; every call goes through the endpoint's breaker and reports its outcome."""

    def __init__(self, inner: ChatModel, breaker: CircuitBreaker) -> None:
        super().__init__(inner)
        self.breaker = breaker

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        probe = self.breaker.acquire()
        verdict = False
        try:
            async with closing_stream(self.inner.stream(request)) as events:
                async for event in events:
                    if isinstance(event, StreamEnd):
                        self.breaker.record_success(probe=probe)
                        verdict = True
                    yield event
        except ModelError as exc:
            if not verdict and counts_against_endpoint(exc):
                self.breaker.record_failure(probe=probe)
                verdict = True
            raise
        finally:
            if not verdict:
                self.breaker.release(probe=probe)
