"""The time budget of one chat turn: when it started, its deadlines, and where the time went.

A turn's clock starts at the user's message, before any of our own queueing (the conversation's
lock, the gate, retrieval), so every deadline covers everything the user waits for. The budget
splits that time in three, and each rule is about whose time it is:

- **Hosted window.** Hosted models must send a first event within `hosted_s` of the message; but
  the hosted part of a walk always gets `hosted_min_s` of waiting of its own (`HostedShare`), so a
  turn that waited in our own queue (or was prepared slowly) still gives a healthy endpoint a fair
  chance instead of failing over to the (then equally loaded) private model.
- **Endpoint fault.** An attempt stopped by the window after less than `hosted_min_s` of its own
  waiting (its share used up by an earlier attempt) was stopped by our clock, not by its endpoint:
  it marks nothing (`endpoint_at_fault` is False on its `DeadlinePassed`), and the breaker never
  counts a deadline.
- **Answer deadline.** A local model answering *after* hosted models failed or were skipped must
  be done `answer_s` after the message, with at least `local_min_s` of generation once its first
  words came: past that the answer is cut short (`CutoffModel`) and the user is told. The wait for
  the private model's queue is not cut: the queue bounds it, and the UI shows the place in line.
  Unless `fallback_tools`, that local answer is offered no tools (`routing.fallback`): reading
  the definitions and a tool round cost more than the time left. A turn that never touched a
  hosted model (a local-only route) is never cut and keeps its tools.

`TurnClock` records spans (lock, gate, retrieval, each model attempt with its first event and the
time it waited before the model worked on it, each skip) and `TimeSplit` is the typed record the
turn's result carries. This module never looks at text and never decides which model is called.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict

from models.base import ChatModel, ChatRequest, ModelWrapper, StreamEnd, StreamEvent, TextDelta, Usage
from routing.reliability_settings import ReliabilitySettings
from routing.retry import closing_stream

Phase = Literal["lock", "gate", "retrieval", "attempt", "skip"]


@dataclass(frozen=True, slots=True)
class TurnBudget:
    """The deadlines of a turn, in seconds from the user's message (None: no such deadline)."""

    hosted_s: float | None
    hosted_min_s: float = 3.0
    answer_s: float | None = None
    local_min_s: float = 2.0
    # A local model answering after hosted ones failed or were skipped is offered the turn's tools.
    fallback_tools: bool = True

    @classmethod
    def from_settings(cls, settings: ReliabilitySettings) -> TurnBudget:
        return cls(
            hosted_s=settings.hosted_turn_deadline_s,
            hosted_min_s=settings.hosted_min_attempt_s,
            answer_s=settings.turn_answer_deadline_s,
            local_min_s=settings.local_fallback_min_s,
            fallback_tools=settings.local_fallback_tools,
        )


class Span(BaseModel):
    """One stretch of a turn; times in ms from the user's message."""

    model_config = ConfigDict(frozen=True)

    phase: Phase
    start_ms: float
    ms: float
    model: str = ""
    kind: str = ""
    # "ok", the error's class name, or why a model was skipped.
    outcome: str = ""
    # From the attempt's start (pseudonymization included) until the model was asked.
    prepare_ms: float | None = None
    # From the model being asked until its first event (queue, connection, prompt, first token).
    first_event_ms: float | None = None
    # What the model reports as its own time; the rest of the call was waiting (queue, network).
    model_ms: float | None = None
    # A timeout or connection failure that marked the endpoint for the rest of the turn.
    marked_endpoint: bool = False


class TimeSplit(BaseModel):
    """Where a turn's time went, as its result records it (and the CLI prints)."""

    model_config = ConfigDict(frozen=True)

    total_ms: float
    hosted_deadline_ms: float | None = None
    answer_deadline_ms: float | None = None
    # The local fallback was stopped at the answer deadline.
    cut_short: bool = False
    spans: tuple[Span, ...] = ()

    def ms_by_phase(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for span in self.spans:
            totals[span.phase] = totals.get(span.phase, 0.0) + span.ms
        return {phase: round(ms, 1) for phase, ms in totals.items()}


@dataclass
class TurnClock:
    """The running clock of one turn: its budget, its start, and the spans recorded so far."""

    budget: TurnBudget
    clock: Callable[[], float] = time.monotonic
    # What the deadlines count from (the user's message, or a later tool round's start) ...
    started: float = field(default=-1.0)
    # ... and what recorded times count from (always the user's message).
    origin: float = field(default=-1.0)
    spans: list[Span] = field(default_factory=list)
    cut_short: bool = False
    # When the first walk's hosted window closed (for the record).
    hosted_at: float | None = None
    # Hosted endpoints that timed out or refused the connection in this turn: a later tool round
    # skips them too (each round walks the chain again; a hung endpoint must not cost each one
    # its own hosted window).
    dead_endpoints: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()
        if self.origin < 0:
            self.origin = self.started

    def ms(self, at: float | None = None) -> float:
        return ((self.clock() if at is None else at) - self.origin) * 1000

    def for_round(self) -> TurnClock:
        """The clock of a later model round of the same turn (a tool loop): its hosted window
        counts from now, it is never cut short, its spans go into this turn's record, and the
        endpoints this turn found dead stay dead."""
        budget = replace(self.budget, answer_s=None)
        return TurnClock(
            budget,
            self.clock,
            started=self.clock(),
            origin=self.origin,
            spans=self.spans,
            dead_endpoints=self.dead_endpoints,
        )

    def hosted_by(self) -> float | None:
        """When the hosted window closes (a walk's `HostedShare` may keep it open a little longer)."""
        if self.budget.hosted_s is None:
            return None
        at = self.started + self.budget.hosted_s
        if self.hosted_at is None:
            self.hosted_at = at
        return at

    def answer_by(self) -> float | None:
        return None if self.budget.answer_s is None else self.started + self.budget.answer_s

    @contextmanager
    def span(self, phase: Phase, *, outcome: str = "ok") -> Iterator[None]:
        began = self.clock()
        try:
            yield
        finally:
            start = self.ms(began)
            self.spans.append(
                Span(phase=phase, start_ms=round(start, 1), ms=round(self.ms() - start, 1), outcome=outcome)
            )

    def add(self, span: Span) -> None:
        self.spans.append(span)

    def split(self) -> TimeSplit:
        answer_by = self.answer_by()
        return TimeSplit(
            total_ms=self.ms(),
            hosted_deadline_ms=None if self.hosted_at is None else self.ms(self.hosted_at),
            answer_deadline_ms=None if answer_by is None else self.ms(answer_by),
            cut_short=self.cut_short,
            spans=tuple(sorted(self.spans, key=lambda s: s.start_ms)),
        )


@dataclass
class AttemptTimer:
    """Times one attempt of the fallback loop; `TimedModel` fills in what the model stream shows."""

    turn: TurnClock
    model: ChatModel
    began: float
    asked: float | None = None
    first: float | None = None
    model_ms: float | None = None

    def finish(self, outcome: str, *, marked: bool = False) -> None:
        clock = self.turn.clock

        def gap(start: float | None, end: float | None) -> float | None:
            return None if start is None or end is None else round((end - start) * 1000, 1)

        self.turn.add(
            Span(
                phase="attempt",
                start_ms=round(self.turn.ms(self.began), 1),
                ms=round((clock() - self.began) * 1000, 1),
                model=self.model.name,
                kind=self.model.kind,
                outcome=outcome,
                prepare_ms=gap(self.began, self.asked),
                first_event_ms=gap(self.asked, self.first),
                model_ms=None if self.model_ms is None else round(self.model_ms, 1),
                marked_endpoint=marked,
            )
        )


class TimedModel(ModelWrapper):
    """Reports to an `AttemptTimer` when the model was asked, its first event and its own time;
    with `cut_at` (a local fallback), stops the answer at the turn's answer deadline (never sooner
    than `min_s` after the first words) and ends it as cut short, with what was said so far."""

    def __init__(
        self,
        inner: ChatModel,
        timer: AttemptTimer,
        *,
        cut_at: float | None = None,
        min_s: float = 0.0,
    ) -> None:
        super().__init__(inner)
        self.timer = timer
        self._cut_at = cut_at
        self._min_s = min_s

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        clock = self.timer.turn.clock
        self.timer.asked = clock()
        text: list[str] = []
        cut_at: float | None = None
        async with closing_stream(self.inner.stream(request)) as events:
            while True:
                try:
                    event = await _next_before(events, cut_at, clock)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    self.timer.turn.cut_short = True
                    yield self._cut_end(request, "".join(text))
                    return
                if self.timer.first is None:
                    self.timer.first = clock()
                    if self._cut_at is not None:
                        cut_at = max(self._cut_at, self.timer.first + self._min_s)
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, StreamEnd):
                    self.timer.model_ms = event.latency_ms
                yield event

    def _cut_end(self, request: ChatRequest, text: str) -> StreamEnd:
        """The final record of an answer stopped at the deadline (the model's own never came)."""
        asked = self.timer.asked or self.timer.began
        first = self.timer.first
        prompt = sum(self.count_tokens(m.content) + 4 for m in request.messages)
        return StreamEnd(
            model=self.name,
            kind=self.kind,
            usage=Usage(prompt_tokens=prompt, completion_tokens=self.count_tokens(text), source="counted"),
            finish_reason="length",
            latency_ms=(self.timer.turn.clock() - asked) * 1000,
            ttft_ms=None if first is None else (first - asked) * 1000,
            text=text,
        )


async def _next_before(
    events: AsyncIterator[StreamEvent], cut_at: float | None, clock: Callable[[], float]
) -> StreamEvent:
    """The next event; `TimeoutError` when `cut_at` passes first (never across a yield)."""
    if cut_at is None:
        return await anext(events)
    async with asyncio.timeout(max(0.0, cut_at - clock())):
        return await anext(events)
