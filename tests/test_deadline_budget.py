"""The turn's time budget (routing/turn_budget.py): deadlines from the user's message, the hosted
part's own share, who is judged for a timeout, the local fallback cut at the answer deadline, and
the time split a turn records.

Scripted models and explicit clocks: what is asserted is which models were asked, what marked an
endpoint, what the turn ended with and which spans it recorded, never how long anything took.
A model that "hangs" waits forever, so a cut or a deadline is the only way out of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from assistant.identity import Principal
from assistant.pipeline import CUT_SHORT, ChatPipeline, ModelSet
from assistant.settings import Settings
from assistant.turns import Conversation, Notice, TurnResult
from models.base import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    ModelError,
    ModelKind,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
    collect,
)
from models.fakes import QueueModel
from routing.breaker import BreakerModel, CircuitBreaker
from routing.fallback import Candidate, FellBack, in_order, marks_endpoint
from routing.reliability_settings import ReliabilitySettings
from routing.retry import (
    DeadlinePassed,
    HostedShare,
    RetryingModel,
    RetryPolicy,
    TurnDeadline,
    deadline_scope,
)
from routing.turn_budget import TurnBudget, TurnClock
from tests.support.privacy import ScriptedPrivacy

REQUEST = ChatRequest.of([ChatMessage(role="user", content="Name three colours.")])
API = "https://api.example/v1"
OTHER = "https://other.example/v1"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Scripted:
    """A model that, when asked, moves the clock by `costs_s`, optionally waits for `gate`, sends
    `deltas`, then either ends or (with `hang_after`) waits forever."""

    context_window = 2048

    def __init__(
        self,
        name: str,
        kind: ModelKind,
        *,
        clock: Clock | None = None,
        costs_s: float = 0.0,
        deltas: tuple[str, ...] = ("answer",),
        hang_before: bool = False,
        hang_after: bool = False,
        gate: asyncio.Event | None = None,
        endpoint: str | None = None,
        error: ModelError | None = None,
    ) -> None:
        self.name, self.kind, self.clock, self.costs_s = name, kind, clock, costs_s
        self.error = error
        self.deltas, self.hang_before, self.hang_after, self.gate = deltas, hang_before, hang_after, gate
        if endpoint is not None:
            self.endpoint = endpoint
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        if self.clock is not None:
            self.clock.now += self.costs_s
        if self.error is not None:
            raise self.error
        if self.gate is not None:
            await self.gate.wait()
        if self.hang_before:
            await asyncio.Event().wait()
        for text in self.deltas:
            yield TextDelta(text)
        if self.hang_after:
            await asyncio.Event().wait()
        text = "".join(self.deltas)
        yield StreamEnd(
            model=self.name, kind=self.kind, usage=Usage(), finish_reason="stop", latency_ms=1.0, text=text
        )


async def walk(
    models: list[ChatModel], turn: TurnClock, skipped: list[tuple[str, str]] | None = None
) -> list[object]:
    async def attempt(candidate: Candidate) -> AsyncIterator[StreamEvent]:
        async for event in candidate.model.stream(REQUEST):
            yield event

    def on_skip(model: ChatModel, reason: str) -> None:
        if skipped is not None:
            skipped.append((model.name, reason))

    candidates = [Candidate(model, pseudonymize=False) for model in models]
    return [item async for item in in_order(candidates, attempt, turn=turn, on_skip=on_skip)]  # type: ignore[arg-type]


def answer_of(items: list[object]) -> StreamEnd:
    ends = [item for item in items if isinstance(item, StreamEnd)]
    assert len(ends) == 1
    return ends[0]


# -- the hosted window ----------------------------------------------------------------------------


def test_the_hosted_window_counts_from_the_message_but_owes_the_hosted_part_its_share() -> None:
    clock = Clock(100.0)
    turn = TurnClock(TurnBudget(hosted_s=8.0, hosted_min_s=3.0, answer_s=11.0), clock)
    assert turn.hosted_by() == 108.0 and turn.answer_by() == 111.0
    clock.now = 109.0  # our own queues took 9 s: the window has closed, but nothing was waited yet
    deadline = TurnDeadline(108.0, clock, share=HostedShare(3.0))
    assert deadline.remaining() == 3.0 and not deadline.passed()
    deadline.begin()  # the first hosted request goes out
    clock.now = 112.0  # its retries and their backoff used the share (3 s from 109)
    assert deadline.passed()


async def test_a_turn_that_waited_in_our_queue_still_asks_a_healthy_hosted_model() -> None:
    """The overload cascade: 9 s in our own queue (past the 8 s hosted deadline) must not send the
    turn to the private model without asking the hosted one, which answers at once."""
    clock = Clock(100.0)
    turn = TurnClock(TurnBudget(hosted_s=8.0, hosted_min_s=3.0, answer_s=11.0), clock)
    clock.now += 9.0  # the lock, the gate and retrieval waited behind other turns
    strong = Scripted("strong", "hosted", deltas=("Red, blue, green.",), endpoint=API)
    local = Scripted("smol", "local")
    skipped: list[tuple[str, str]] = []
    items = await walk([strong, local], turn, skipped)  # type: ignore[list-item]
    assert answer_of(items).model == "strong" and local.calls == 0 and skipped == []


async def hung_endpoint_walk(
    own_wait_s: float, breaker: CircuitBreaker | None = None
) -> tuple[list[object], list[tuple[str, str]], TurnClock, Scripted]:
    """strong (on another endpoint) answers 503 after 3 s, which uses the hosted share; then
    cheap, on `API`, hangs and is left at the window (108 s on the clock), having waited
    `own_wait_s` itself; mini, also on `API`, comes next. The window's last 10 ms of real time are
    all cheap gets: the clock moves by hand."""
    clock = Clock(100.0)
    turn = TurnClock(TurnBudget(hosted_s=8.0, hosted_min_s=3.0, answer_s=11.0), clock)
    strong = Scripted("strong", "hosted", clock=clock, costs_s=3.0, error=ModelUnavailable("502", status=502))
    strong.endpoint = OTHER
    cheap = Scripted("cheap", "hosted", clock=clock, costs_s=own_wait_s, hang_before=True, endpoint=API)
    inner: ChatModel = cheap if breaker is None else BreakerModel(cheap, breaker)  # type: ignore[arg-type]
    policy = RetryPolicy(max_attempts=1)
    mini = Scripted("mini", "hosted", endpoint=API)
    local = Scripted("smol", "local", deltas=("local answer",))
    skipped: list[tuple[str, str]] = []

    async def attempt(candidate: Candidate) -> AsyncIterator[StreamEvent]:
        if candidate.model.name == "strong":
            clock.now = 104.99  # the request waited behind other turns before it was sent
        async for event in candidate.model.stream(REQUEST):
            yield event

    def on_skip(model: ChatModel, reason: str) -> None:
        skipped.append((model.name, reason))

    models = [RetryingModel(strong, policy), RetryingModel(inner, policy), mini, local]  # type: ignore[arg-type]
    candidates = [Candidate(m, pseudonymize=False) for m in models]  # type: ignore[arg-type]
    items: list[object] = [item async for item in in_order(candidates, attempt, turn=turn, on_skip=on_skip)]  # type: ignore[arg-type]
    return items, skipped, turn, mini


async def test_a_deadline_that_left_the_endpoint_no_fair_share_marks_nothing() -> None:
    """The hosted attempt had 0.5 s of its own when the turn's window closed: the endpoint was not
    judged, so nothing is marked and the next model on it is skipped only for the deadline."""
    items, skipped, turn, _ = await hung_endpoint_walk(own_wait_s=0.5)
    fell = [item for item in items if isinstance(item, FellBack)]
    assert isinstance(fell[1].error, DeadlinePassed) and not fell[1].error.endpoint_at_fault
    assert skipped == [("mini", "the turn's hosted deadline passed")]
    assert answer_of(items).text == "local answer"
    attempts = [s for s in turn.split().spans if s.phase == "attempt"]
    assert [(s.model, s.marked_endpoint) for s in attempts] == [
        ("strong", False),
        ("cheap", False),
        ("smol", False),
    ]


async def test_a_hung_endpoint_that_had_its_share_is_marked() -> None:
    items, skipped, turn, mini = await hung_endpoint_walk(own_wait_s=3.5)
    fell = [item for item in items if isinstance(item, FellBack)]
    assert isinstance(fell[1].error, DeadlinePassed) and fell[1].error.endpoint_at_fault
    assert skipped == [("mini", f"endpoint {API} failed earlier in this turn")] and mini.calls == 0
    assert answer_of(items).text == "local answer"
    attempts = [s for s in turn.split().spans if s.phase == "attempt"]
    assert [(s.model, s.marked_endpoint) for s in attempts] == [
        ("strong", False),
        ("cheap", True),
        ("smol", False),
    ]


def test_which_deadlines_mark_an_endpoint() -> None:
    assert marks_endpoint(DeadlinePassed("waited its share", endpoint_at_fault=True))
    assert not marks_endpoint(DeadlinePassed("our own queue used the time"))
    assert marks_endpoint(ModelTimeout("no first token"))


async def test_the_breaker_never_counts_a_turn_deadline() -> None:
    breaker = CircuitBreaker(API, threshold=1)
    items, _, _, _ = await hung_endpoint_walk(own_wait_s=3.5, breaker=breaker)
    assert answer_of(items).model == "smol"
    assert breaker.state == "closed" and breaker.snapshot().consecutive_failures == 0


# -- the local fallback and the answer deadline ---------------------------------------------------


def _past_the_answer_deadline(local_min_s: float = 0.0) -> tuple[Clock, TurnClock]:
    clock = Clock(100.0)
    turn = TurnClock(
        TurnBudget(hosted_s=8.0, hosted_min_s=3.0, answer_s=11.0, local_min_s=local_min_s), clock
    )
    clock.now = 112.0  # the hosted model failed late: the answer deadline (111) has passed
    return clock, turn


async def test_a_local_fallback_is_cut_short_at_the_answer_deadline() -> None:
    _, turn = _past_the_answer_deadline()
    strong = failing_hosted()
    local = Scripted("smol", "local", deltas=("Red, ", "blue"), hang_after=True)
    items = await walk([strong, local], turn)  # type: ignore[list-item]
    end = answer_of(items)
    assert (end.model, end.finish_reason, end.text) == ("smol", "length", "Red, blue")
    assert turn.cut_short and turn.split().cut_short


async def test_a_local_fallback_gets_its_minimum_after_its_first_words() -> None:
    """Past the answer deadline, a fallback still generates `local_min_s` after its first words:
    with a minimum of 60 s, a model that finishes 10 ms later is not cut."""
    _, turn = _past_the_answer_deadline(local_min_s=60.0)
    gate = asyncio.Event()
    strong = failing_hosted()

    class Slow(Scripted):
        async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
            yield TextDelta("Red, ")
            asyncio.get_running_loop().call_later(0.01, gate.set)
            await gate.wait()
            yield StreamEnd(
                model=self.name,
                kind="local",
                usage=Usage(),
                finish_reason="stop",
                latency_ms=1.0,
                text="Red, blue",
            )

    items = await walk([strong, Slow("smol", "local")], turn)  # type: ignore[list-item]
    assert answer_of(items).finish_reason == "stop" and not turn.cut_short


async def test_the_wait_before_the_first_words_is_not_cut() -> None:
    """The private model's queue bounds the wait for its first words (and the UI shows the place
    in line): a fallback asked past the answer deadline still answers in full."""
    _, turn = _past_the_answer_deadline()
    gate = asyncio.Event()
    strong = failing_hosted()
    local = Scripted("smol", "local", deltas=("Red, blue, green.",), gate=gate)
    asyncio.get_running_loop().call_later(0.01, gate.set)
    items = await walk([strong, local], turn)  # type: ignore[list-item]
    assert answer_of(items).finish_reason == "stop" and not turn.cut_short


async def test_a_local_only_walk_is_never_cut() -> None:
    """A regulated turn never touched a hosted model: its local answer is not a fallback."""
    _, turn = _past_the_answer_deadline()
    gate = asyncio.Event()

    class Slow(Scripted):
        async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
            yield TextDelta("Red, ")
            asyncio.get_running_loop().call_later(0.01, gate.set)
            await gate.wait()
            yield StreamEnd(
                model=self.name,
                kind="local",
                usage=Usage(),
                finish_reason="stop",
                latency_ms=1.0,
                text="Red, blue",
            )

    items = await walk([Slow("smol", "local")], turn)  # type: ignore[list-item]
    assert answer_of(items).finish_reason == "stop" and not turn.cut_short


def failing_hosted() -> QueueModel:
    return QueueModel(ModelUnavailable("connection failed"), name="strong", kind="hosted")


# -- through the pipeline -------------------------------------------------------------------------


def pipeline(local: ChatModel, hosted: list[ChatModel], **reliability: float) -> ChatPipeline:
    settings = Settings(reliability=ReliabilitySettings(**reliability))  # type: ignore[arg-type]
    return ChatPipeline(
        settings=settings, models=ModelSet(local=local, hosted=hosted), privacy=ScriptedPrivacy()
    )


async def run(
    p: ChatPipeline, text: str, conv: Conversation | None = None
) -> tuple[list[object], TurnResult]:
    conv = conv or Conversation(id="t1", principal=Principal(user_id="u1"))
    events: list[object] = [e async for e in p.run(conv, text)]
    assert isinstance(events[-1], TurnResult)
    return events, events[-1]


async def test_a_turn_records_where_its_time_went() -> None:
    strong = QueueModel(ModelTimeout("no first token"), name="strong", kind="hosted")
    strong.endpoint = API  # type: ignore[attr-defined]
    cheap = QueueModel("never asked", name="cheap", kind="hosted")
    cheap.endpoint = API  # type: ignore[attr-defined]
    local = QueueModel("local answer", name="smol", kind="local")
    _, result = await run(pipeline(local, [strong, cheap]), "capital of France?")
    assert result.model == "smol" and result.outcome == "fallback"
    timing = result.timing
    assert (
        timing is not None and timing.hosted_deadline_ms is not None and timing.answer_deadline_ms == 11000.0
    )
    spans = [(s.phase, s.model, s.outcome) for s in timing.spans]
    assert spans[:3] == [("lock", "", "ok"), ("gate", "", "ok"), ("retrieval", "", "ok")]
    assert spans[3:] == [
        ("attempt", "strong", "ModelTimeout"),
        ("skip", "cheap", f"endpoint {API} failed earlier in this turn"),
        ("attempt", "smol", "ok"),
    ]
    assert [s.marked_endpoint for s in timing.spans if s.phase == "attempt"] == [True, False]
    printed = result.summary()["timing"]
    assert isinstance(printed, dict) and set(printed["ms_by_phase"]) == {
        "lock",
        "gate",
        "retrieval",
        "attempt",
        "skip",
    }


async def test_a_cut_short_fallback_is_told_and_not_cached() -> None:
    strong = QueueModel(ModelUnavailable("connection failed"), name="strong", kind="hosted")
    local = Scripted("smol", "local", deltas=("Red, ", "blue"), hang_after=True)
    p = pipeline(
        local,  # type: ignore[arg-type]
        [strong],
        hosted_turn_deadline_s=0.001,
        turn_answer_deadline_s=0.002,
        local_fallback_min_s=0.001,
    )
    events, result = await run(p, "Name three colours.")
    assert result.answer == "Red, blue" and result.finish_reason == "length"
    assert [e.kind for e in events if isinstance(e, Notice)] == ["fallback", "cut_short"]
    assert CUT_SHORT in result.notices and result.timing is not None and result.timing.cut_short


async def test_a_healthy_hosted_model_answers_a_turn_that_waited_for_the_conversation() -> None:
    """The turn waits for the conversation's lock (an earlier turn of the same chat) past its
    hosted deadline; the hosted model still gets its own share and answers."""
    strong = QueueModel("hosted answer", name="strong", kind="hosted")
    local = QueueModel("local answer", name="smol", kind="local")
    p = pipeline(local, [strong], hosted_turn_deadline_s=0.001, hosted_min_attempt_s=60.0)
    conv = Conversation(id="t1", principal=Principal(user_id="u1"))
    released = asyncio.Event()

    async def hold() -> None:
        async with conv.lock:
            await released.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)  # the holder owns the lock before the turn starts
    asyncio.get_running_loop().call_later(0.01, released.set)
    _, result = await run(p, "capital of France?", conv)
    await holder
    assert result.model == "strong" and local.requests == []
    assert result.timing is not None and result.timing.spans[0].phase == "lock"


def test_a_hosted_deadline_must_come_before_the_answer_deadline() -> None:
    with pytest.raises(ValueError, match="turn_answer_deadline_s"):
        ReliabilitySettings(hosted_turn_deadline_s=12.0, turn_answer_deadline_s=11.0)


def test_prompt_processing_never_takes_every_core_by_default() -> None:
    """llama-cpp-python takes every core for prompt processing unless told: on a loaded 2-core
    machine that made the local fallback's first token take seconds (see `worker_threads`)."""
    import os

    from models.local import worker_threads
    from models.settings import LocalModelSettings

    default = worker_threads(LocalModelSettings())
    assert 1 <= default <= max(1, (os.cpu_count() or 2) // 2)
    assert worker_threads(LocalModelSettings(threads=3)) == 3


async def test_the_routing_decision_record_says_where_the_time_went() -> None:
    from assistant.turn_records import time_note

    strong = QueueModel(ModelUnavailable("connection failed"), name="strong", kind="hosted")
    local = Scripted("smol", "local", deltas=("Red, ", "blue"), hang_after=True)
    p = pipeline(
        local,  # type: ignore[arg-type]
        [strong],
        hosted_turn_deadline_s=0.001,
        turn_answer_deadline_s=0.002,
        local_fallback_min_s=0.001,
    )
    _, result = await run(p, "Name three colours.")
    note = time_note(result)
    assert note.startswith("; time ms: total ") and note.endswith(", cut short at the answer deadline")
    assert all(f"{phase} " in note for phase in ("lock", "gate", "retrieval", "attempt"))


async def test_the_hosted_share_counts_retries_and_their_backoff() -> None:
    """A turn that reached the hosted model after its window closed gets 3 s of hosted time, not
    3 s per attempt: a rate-limited endpoint asking for 2 s between tries is tried twice."""
    clock = Clock(109.0)  # the window closed at 108 while the turn waited in our queues
    model = QueueModel(
        *[ModelRateLimited("slow down", retry_after=2.0) for _ in range(5)], name="strong", kind="hosted"
    )

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    policy = RetryPolicy(max_attempts=5, base_backoff_s=0.0, max_backoff_s=0.0, budget_s=30.0)
    retrying = RetryingModel(model, policy, clock=clock, sleep=sleep)
    deadline = TurnDeadline(108.0, clock, share=HostedShare(3.0))
    with deadline_scope(deadline), pytest.raises(ModelRateLimited):
        await collect(retrying.stream(REQUEST))
    assert len(model.requests) == 2
