"""The fair queue in front of the private model, with scripted jobs and a hand-driven clock.

No thread and no model: a "worker" here is the test calling `finish`, so every order asserted is
the queue's decision, not a race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from models.base import ChatMessage, ChatRequest, ModelBusy, StreamEnd, StreamEvent, TextDelta, Usage, collect
from models.local_queue import FairQueue, QueuedModel, QueuePlace, QueueTooLong, Ticket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Worker:
    """Records what the queue started, in order; `serve_next` finishes the oldest running job."""

    def __init__(self, queue: FairQueue[str], clock: Clock, job_s: float = 10.0) -> None:
        self.queue, self.clock, self.job_s = queue, clock, job_s
        self.started: list[str] = []
        self.running: list[Ticket[str]] = []

    def on_start(self, ticket: Ticket[str]) -> None:
        self.started.append(ticket.job)
        self.running.append(ticket)

    def submit(self, job: str, requester: str | None, *, background: bool = False) -> Ticket[str]:
        return self.queue.submit(job, requester=requester, background=background, on_start=self.on_start)

    def serve_next(self) -> None:
        self.clock.now += self.job_s
        self.queue.finish(self.running.pop(0))

    def serve_all(self) -> None:
        while self.running:
            self.serve_next()


def make(slots: int = 1, **kwargs: float) -> tuple[FairQueue[str], Worker]:
    clock = Clock()
    queue: FairQueue[str] = FairQueue(slots=slots, initial_job_s=10.0, clock=clock, **kwargs)  # type: ignore[arg-type]
    return queue, Worker(queue, clock)


def test_requesters_take_turns_so_a_busy_user_does_not_starve_a_first_question() -> None:
    _, worker = make()
    worker.submit("busy-1", "busy")
    for job in ("busy-2", "busy-3", "busy-4"):
        worker.submit(job, "busy")
    worker.submit("quiet-1", "quiet")
    worker.submit("other-1", "other")
    worker.serve_all()
    assert worker.started == ["busy-1", "busy-2", "quiet-1", "other-1", "busy-3", "busy-4"]


def test_a_requester_served_goes_to_the_back_of_the_rotation() -> None:
    _, worker = make()
    worker.submit("a-1", "a")  # runs at once
    for job, who in (("a-2", "a"), ("b-1", "b"), ("a-3", "a"), ("b-2", "b"), ("c-1", "c")):
        worker.submit(job, who)
    worker.serve_all()
    assert worker.started == ["a-1", "a-2", "b-1", "c-1", "a-3", "b-2"]


def test_interactive_requests_go_before_waiting_background_work() -> None:
    _, worker = make()
    worker.submit("summary-1", "u1", background=True)
    worker.submit("summary-2", "u1", background=True)
    worker.submit("summary-3", "u2", background=True)
    worker.submit("chat-1", "u3")
    worker.submit("chat-2", "u1")
    worker.serve_all()
    assert worker.started == ["summary-1", "chat-1", "chat-2", "summary-2", "summary-3"]


def test_anonymous_requests_each_take_their_own_turn_in_the_rotation() -> None:
    _, worker = make()
    worker.submit("a-1", "a")
    worker.submit("a-2", "a")
    worker.submit("a-3", "a")
    worker.submit("cli-1", None)
    worker.submit("cli-2", None)
    worker.serve_all()
    assert worker.started == ["a-1", "a-2", "cli-1", "cli-2", "a-3"]


def test_each_waiting_requester_learns_its_place_and_an_estimate() -> None:
    queue, worker = make()
    worker.submit("a-1", "a")
    worker.submit("b-1", "b")
    worker.submit("c-1", "c")
    worker.clock.now += 4  # a-1 has run 4 of its estimated 10 s
    assert queue.place("a") is None  # running, not waiting
    assert queue.place("b") == QueuePlace(position=1, wait_s=6.0, waiting=2)
    assert queue.place("c") == QueuePlace(position=2, wait_s=16.0, waiting=2)


def test_the_estimate_follows_measured_job_times() -> None:
    queue, worker = make()
    worker.job_s = 30.0
    for n in range(5):
        worker.submit(f"a-{n}", "a")
        worker.serve_next()
    assert queue.avg_job_s > 25.0
    worker.submit("a-long", "a")
    worker.submit("b-1", "b")
    place = queue.place("b")
    assert place is not None and place.wait_s > 25.0


def test_watchers_hear_each_change_of_place_until_served() -> None:
    queue, worker = make()
    worker.submit("a-1", "a")
    worker.submit("b-1", "b")
    worker.submit("c-1", "c")
    heard: list[QueuePlace | None] = []
    stop = queue.watch("c", heard.append)
    worker.serve_next()  # b starts: c moves up
    worker.serve_next()  # c starts: nothing of c's waits any more
    stop()
    worker.submit("c-2", "c")
    assert [p.position if p else None for p in heard] == [2, 1, None]


def test_withdrawing_a_waiting_request_frees_its_place() -> None:
    queue, worker = make()
    worker.submit("a-1", "a")
    b = worker.submit("b-1", "b")
    worker.submit("c-1", "c")
    queue.withdraw(b)
    assert queue.place("c") == QueuePlace(position=1, wait_s=10.0, waiting=1)
    worker.serve_all()
    assert worker.started == ["a-1", "c-1"]


def test_no_refusal_while_the_estimated_wait_is_under_the_bound() -> None:
    queue, worker = make(max_wait_s=120.0)
    for user in range(13):  # the 13th waits 12 jobs x 10 s = 120 s: still within the bound
        worker.submit(f"u{user}-1", f"u{user}")
    assert queue.waiting == 12
    with pytest.raises(QueueTooLong) as refused:
        worker.submit("late-1", "late")
    assert isinstance(refused.value, ModelBusy)
    assert "12 requests waiting" in refused.value.user_message
    assert "try again in" in refused.value.user_message
    assert queue.waiting == 12  # the refused request holds no place
    worker.serve_all()
    assert len(worker.started) == 13


def test_a_cap_on_waiting_requests_still_holds_when_jobs_are_quick() -> None:
    _, worker = make(max_waiting=2)
    worker.submit("a-1", "a")
    worker.submit("b-1", "b")
    worker.submit("c-1", "c")
    with pytest.raises(QueueTooLong):
        worker.submit("d-1", "d")


def test_several_slots_run_jobs_side_by_side() -> None:
    queue, worker = make(slots=3)
    for user in "abcde":
        worker.submit(f"{user}-1", user)
    assert worker.started == ["a-1", "b-1", "c-1"]
    assert queue.running == 3
    assert queue.place("e") == QueuePlace(position=2, wait_s=10.0, waiting=2)
    worker.serve_next()
    assert worker.started[-1] == "d-1"


def test_release_frees_a_running_slot_and_is_idempotent() -> None:
    queue, worker = make()
    a = worker.submit("a-1", "a")
    worker.submit("b-1", "b")
    queue.release(a, measured=False)
    queue.release(a)
    assert worker.started == ["a-1", "b-1"] and queue.running == 1
    assert queue.avg_job_s == 10.0  # an unmeasured release leaves the estimate alone


def test_drain_empties_the_line_for_shutdown() -> None:
    queue, worker = make()
    worker.submit("a-1", "a")
    worker.submit("b-1", "b")
    worker.submit("c-1", "c")
    assert [t.job for t in queue.drain()] == ["b-1", "c-1"]
    assert queue.waiting == 0


async def test_places_stream_to_a_coroutine_on_its_own_loop() -> None:
    queue, worker = make()
    worker.submit("a-1", "a")
    worker.submit("b-1", "b")
    heard: list[QueuePlace | None] = []

    async def listen() -> None:
        async for place in queue.places("b"):
            heard.append(place)
            if place is None:
                return

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0)
    worker.serve_next()  # b starts
    await asyncio.wait_for(listening, timeout=5)
    assert [p.position if p else None for p in heard] == [1, None]


def test_a_failing_watcher_does_not_break_the_queue_for_others() -> None:
    queue, worker = make()
    worker.submit("a-1", "a")
    worker.submit("b-1", "b")
    worker.submit("c-1", "c")
    calls: list[QueuePlace | None] = []

    def breaks_after_the_first_call(place: QueuePlace | None) -> None:
        calls.append(place)
        if len(calls) > 1:
            raise RuntimeError("the watcher's loop is gone")

    heard: list[QueuePlace | None] = []
    queue.watch("c", breaks_after_the_first_call)
    queue.watch("c", heard.append)
    worker.serve_all()
    assert worker.started == ["a-1", "b-1", "c-1"]
    assert len(calls) == 3 and [p.position if p else None for p in heard] == [2, 1, None]


class GatedModel:
    """An inner model whose answers wait for the test to open their gate; counts who is inside."""

    name, kind, context_window = "gated", "local", 1024

    def __init__(self) -> None:
        self.inside: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        who = request.requester or "?"
        self.inside.append(who)
        await self.gates.setdefault(who, asyncio.Event()).wait()
        yield TextDelta(who)
        yield StreamEnd(model="gated", kind="local", usage=Usage(), finish_reason="stop", latency_ms=1.0)


def asking(user: str) -> ChatRequest:
    return ChatRequest.of([ChatMessage(role="user", content="hi")], requester=user)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never got there")


async def test_a_queued_model_lets_slots_in_and_a_cancelled_wait_frees_its_place() -> None:
    inner = GatedModel()
    queue: FairQueue[ChatRequest] = FairQueue(slots=2)
    model = QueuedModel(inner, queue)  # type: ignore[arg-type]
    turns = {user: asyncio.create_task(collect(model.stream(asking(user)))) for user in ("a", "b", "c", "d")}
    await until(lambda: queue.waiting == 2 and len(inner.inside) == 2)
    assert inner.inside == ["a", "b"]
    turns["c"].cancel()  # c stops waiting: d moves up and takes the next free slot
    await until(lambda: queue.waiting == 1)
    inner.gates["a"].set()
    assert (await turns["a"]).text == "a"
    await until(lambda: inner.inside == ["a", "b", "d"])
    for user in ("b", "d"):
        inner.gates[user].set()
        assert (await turns[user]).text == user
    assert queue.running == 0 and queue.waiting == 0
