"""Retries for model calls: the one layer that owns them (the openai SDK's own are off).

A call is retried only before its first text delta: once text reached the user it is never
replayed. Retryable are unavailability, timeouts, rate limits and unreadable responses; backoff is
exponential with full jitter; a `Retry-After` is honoured when it fits the total time budget and
ends the retries at once when it does not. Every attempt is reported (for the audit trail) through
`on_attempt` and attached to the error finally raised. This module never looks at what a request
contains and never changes which model is called.

`TurnDeadline` is the one deadline of a turn's hosted part: the fallback loop sets it (through
`deadline_scope`) while it walks a chain, and `RetryingModel` starts no attempt after it, waits
for a first event no longer than it, and retries only within what is left of it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.base import (
    ChatModel,
    ChatRequest,
    ModelBadResponse,
    ModelError,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    ModelWrapper,
    StreamEvent,
    TextDelta,
)
from routing.reliability_settings import ReliabilitySettings

RETRYABLE: tuple[type[ModelError], ...] = (ModelUnavailable, ModelTimeout, ModelRateLimited, ModelBadResponse)
# The event loop may fire a timer a hair before its time: a wait this much short of a bound is it.
_TIMER_SLACK_S = 0.01


@dataclass(slots=True)
class HostedShare:
    """The time of its own the hosted part of a walk is owed, counted from its first request
    (retries and their backoff included), however late that came: time the turn spent in our own
    queues must not leave a healthy endpoint no time to answer."""

    min_s: float
    began: float | None = None

    def owed(self, now: float) -> float:
        return self.min_s if self.began is None else max(0.0, self.min_s - (now - self.began))


@dataclass(frozen=True, slots=True)
class TurnDeadline:
    """The monotonic time by which a hosted model of this turn must have sent its first event.

    `on_slow` (if any) is called when a hosted attempt has waited `slow_after_s` for its first
    event: the fallback loop uses it to get the local model ready while the wait goes on. With a
    `share`, hosted attempts get at least what it still owes them, even past `at`.
    """

    at: float
    clock: Callable[[], float] = time.monotonic
    on_slow: Callable[[], None] | None = None
    slow_after_s: float = 1.0
    # An attempt stopped by this deadline after less waiting of its own than this was stopped by
    # the turn's clock (its share used by an earlier attempt), not by its endpoint: it marks nothing.
    judge_after_s: float = 0.0
    share: HostedShare | None = None

    @classmethod
    def after(
        cls,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        on_slow: Callable[[], None] | None = None,
        slow_after_s: float = 1.0,
        judge_after_s: float = 0.0,
    ) -> TurnDeadline:
        return cls(clock() + seconds, clock, on_slow, slow_after_s, judge_after_s)

    def remaining(self) -> float:
        """Seconds a hosted attempt may still wait: to `at`, or what its share still owes."""
        now = self.clock()
        owed = self.share.owed(now) if self.share is not None else 0.0
        return max(self.at - now, owed)

    def begin(self) -> None:
        """A hosted request is being sent: the share's time starts now, if it had not yet."""
        if self.share is not None and self.share.began is None:
            self.share.began = self.clock()

    def passed(self) -> bool:
        return self.remaining() <= 0


class DeadlinePassed(ModelTimeout):
    """The turn's hosted deadline passed: no hosted model is tried (or waited for) any longer.

    `endpoint_at_fault` says whether the endpoint had its fair share of the wait (the deadline's
    `judge_after_s`) before it: only then does the timeout mark the endpoint for the turn.
    """

    retryable = False

    def __init__(self, detail: str = "", *, endpoint_at_fault: bool = False) -> None:
        super().__init__(detail)
        self.endpoint_at_fault = endpoint_at_fault


_deadline: ContextVar[TurnDeadline | None] = ContextVar("turn_deadline", default=None)


@contextmanager
def deadline_scope(deadline: TurnDeadline | None) -> Iterator[None]:
    """Make `deadline` the current one for the awaits inside (set and reset in one frame, never
    across a yield, so it cannot leak into the consumer's context)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def current_deadline() -> TurnDeadline | None:
    return _deadline.get()


class RetryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=3, ge=1)
    base_backoff_s: float = Field(default=0.25, ge=0)
    max_backoff_s: float = Field(default=4.0, ge=0)
    budget_s: float = Field(default=8.0, gt=0)

    @classmethod
    def from_settings(cls, settings: ReliabilitySettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.retry_attempts,
            base_backoff_s=settings.backoff_base_s,
            max_backoff_s=settings.backoff_max_s,
            budget_s=settings.retry_budget_s,
        )

    def backoff_s(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
        return float(rng() * min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1)))


Outcome = Literal["ok", "retry", "gave_up", "not_retryable", "after_text", "cancelled"]


class Attempt(BaseModel):
    """One try of one model, as the audit trail records it."""

    model_config = ConfigDict(frozen=True)

    model: str
    number: int
    outcome: Outcome
    error: str | None = None
    status: int | None = None
    elapsed_ms: float
    # The wait before the next attempt (only for outcome "retry").
    wait_s: float | None = None
    reason: str | None = None


def closing_stream(
    events: AsyncIterator[StreamEvent],
) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]:
    """Like `contextlib.aclosing` for the protocol's `AsyncIterator`: a wrapper that stops reading
    must close the inner stream at once, so that generation stops and HTTP responses close."""
    return _closing(events)


@asynccontextmanager
async def _closing(events: AsyncIterator[StreamEvent]) -> AsyncIterator[AsyncIterator[StreamEvent]]:
    try:
        yield events
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


def attempts_of(error: BaseException) -> tuple[Attempt, ...]:
    """The attempts attached to an error raised by `RetryingModel` (empty for any other error)."""
    return tuple(getattr(error, "attempts", ()))


class RetryingModel(ModelWrapper):
    """Wraps a `ChatModel`; retries failed attempts before the first delta, within a time budget."""

    def __init__(
        self,
        inner: ChatModel,
        policy: RetryPolicy | None = None,
        *,
        on_attempt: Callable[[Attempt], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(inner)
        self.policy = policy or RetryPolicy()
        self._on_attempt = on_attempt
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        started = self._clock()
        attempts: list[Attempt] = []
        number = 0
        while True:
            number += 1
            sent_text = False
            try:
                async with (
                    closing_stream(self.inner.stream(request)) as events,
                    closing_stream(_first_within(events, current_deadline())) as bounded,
                ):
                    async for event in bounded:
                        sent_text = sent_text or (isinstance(event, TextDelta) and bool(event.text))
                        yield event
            except ModelError as exc:
                outcome, wait, reason = self._decide(exc, number, sent_text, started)
                self._record(attempts, number, outcome, started, exc, wait, reason)
                if outcome != "retry":
                    exc.attempts = tuple(attempts)  # type: ignore[attr-defined]
                    if reason:
                        exc.add_note(reason)
                    raise
                await self._sleep(wait or 0.0)
                continue
            except (asyncio.CancelledError, GeneratorExit):
                self._record(attempts, number, "cancelled", started, None, None, None)
                raise
            self._record(attempts, number, "ok", started, None, None, None)
            return

    def _decide(
        self, exc: ModelError, number: int, sent_text: bool, started: float
    ) -> tuple[Outcome, float | None, str | None]:
        if sent_text:
            return "after_text", None, None
        if not (isinstance(exc, RETRYABLE) and exc.retryable):
            return "not_retryable", None, None
        if number >= self.policy.max_attempts:
            return "gave_up", None, f"gave up after {number} attempts"
        remaining = self.policy.budget_s - (self._clock() - started)
        used_up = f"retry budget of {self.policy.budget_s:g}s used up"
        deadline = current_deadline()
        if deadline is not None and deadline.remaining() < remaining:
            # The turn's deadline is nearer than the retry budget: it is the one that binds.
            remaining, used_up = deadline.remaining(), "the turn's hosted deadline leaves no time to retry"
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and retry_after > remaining:
            return (
                "gave_up",
                None,
                f"Retry-After {retry_after:g}s exceeds the remaining budget {remaining:.1f}s",
            )
        wait = max(retry_after or 0.0, self.policy.backoff_s(number, self._rng))
        if wait >= remaining:
            return "gave_up", None, used_up
        return "retry", wait, None

    def _record(
        self,
        attempts: list[Attempt],
        number: int,
        outcome: Outcome,
        started: float,
        exc: ModelError | None,
        wait: float | None,
        reason: str | None,
    ) -> None:
        attempt = Attempt(
            model=self.inner.name,
            number=number,
            outcome=outcome,
            error=type(exc).__name__ if exc else None,
            status=exc.status if exc else None,
            elapsed_ms=(self._clock() - started) * 1000,
            wait_s=wait,
            reason=reason,
        )
        attempts.append(attempt)
        if self._on_attempt is not None:
            self._on_attempt(attempt)


async def _first_within(
    events: AsyncIterator[StreamEvent], deadline: TurnDeadline | None
) -> AsyncIterator[StreamEvent]:
    """`events`, but the first one must arrive before `deadline` (a hung endpoint is left at
    the deadline, not at its own first-token timeout); later events are not bounded here."""
    if deadline is None:
        async for event in events:
            yield event
        return
    if deadline.passed():
        raise DeadlinePassed("the turn's hosted deadline passed before this attempt")
    deadline.begin()
    slow = None
    if deadline.on_slow is not None:
        slow = asyncio.get_running_loop().call_later(max(0.0, deadline.slow_after_s), deadline.on_slow)
    began = deadline.clock()
    try:
        async with asyncio.timeout(deadline.remaining()):
            first = await anext(events)
    except StopAsyncIteration:
        return
    except TimeoutError:
        waited = deadline.clock() - began
        raise DeadlinePassed(
            f"no first event before the turn's hosted deadline (waited {waited:.1f}s)",
            endpoint_at_fault=waited + _TIMER_SLACK_S >= deadline.judge_after_s,
        ) from None
    finally:
        if slow is not None:
            slow.cancel()  # the first event came (or the attempt ended): nothing is slow
    yield first
    async for event in events:
        yield event
