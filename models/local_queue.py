"""A fair queue in front of the private model: who generates next, and how long everyone waits.

The private model serves a few requests at a time (one llama.cpp worker in process, or the
`--parallel` slots of a private server). Everyone else waits here, in this order:

- interactive requests before background work (document summaries nobody is watching);
- round-robin between requesters: a user with three turns queued does not delay another user's
  first, because each requester's next request goes to the back of the rotation once served;
- first come, first served within one requester.

Waiting is never refused while the estimated wait stays under `max_wait_s`; beyond it (or past
`max_waiting` requests) the caller gets `QueueTooLong`, a `ModelBusy` with a sentence saying how
long the line is. Each waiting requester can watch its place and an estimate (from measured job
times) as `QueuePlace` events, so the UI can say "You're 3rd in line, about 40 s".

The queue is thread-safe and bound to no event loop: the in-process worker is a thread, callers
are coroutines on whatever loop they run on. It never sees message text and never decides where a
request may go; it only orders requests that are already allowed to reach the private model.
Callbacks (`on_start`, watchers) run under the queue's lock: they must only hand the news on
(`SimpleQueue.put`, `loop.call_soon_threadsafe`), never block or call back into the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeAlias, TypeVar

from models.base import ChatModel, ChatRequest, ModelBusy, ModelWrapper, StreamEvent
from models.settings import LocalModelSettings

J = TypeVar("J")
T = TypeVar("T")
log = logging.getLogger(__name__)
TicketState = Literal["waiting", "running", "done", "withdrawn"]

# How much a new measurement moves the average job time (the rest is history).
_SMOOTHING = 0.3


@dataclass(frozen=True, slots=True)
class QueuePlace:
    """Where a requester's first waiting request stands: `position` 1 is served next."""

    position: int
    wait_s: float
    waiting: int


@dataclass(eq=False)
class Ticket(Generic[J]):
    """One request in the queue; `job` is whatever the model needs to run it."""

    job: J
    requester: str
    background: bool
    arrival: int
    on_start: Callable[[Ticket[J]], object]
    state: TicketState = "waiting"
    started_at: float | None = None


class QueueTooLong(ModelBusy):
    """The wait would exceed the bound: say how long the line is instead of queueing."""

    def __init__(self, *, waiting: int, wait_s: float) -> None:
        super().__init__(max(1, round(wait_s)))
        self.waiting = waiting
        self.wait_s = wait_s

    @property
    def user_message(self) -> str:  # type: ignore[override]
        return (
            f"The private model has {self.waiting} requests waiting (about {_duration(self.wait_s)}), "
            f"longer than we let anyone wait; please try again in {self.retry_after_s} s."
        )


def _duration(seconds: float) -> str:
    return f"{max(1, round(seconds))} s" if seconds < 90 else f"{round(seconds / 60)} min"


Band: TypeAlias = OrderedDict[str, deque[Ticket[J]]]


@dataclass
class _Lines(Generic[J]):
    """Waiting tickets per band, each band a rotation of requesters with their FIFO of tickets."""

    interactive: Band[J] = field(default_factory=OrderedDict)
    background: Band[J] = field(default_factory=OrderedDict)

    def band(self, ticket: Ticket[J]) -> Band[J]:
        return self.background if ticket.background else self.interactive

    def add(self, ticket: Ticket[J]) -> None:
        self.band(ticket).setdefault(ticket.requester, deque()).append(ticket)

    def remove(self, ticket: Ticket[J]) -> None:
        band = self.band(ticket)
        tickets = band[ticket.requester]
        tickets.remove(ticket)
        if not tickets:
            del band[ticket.requester]

    def pop_next(self) -> Ticket[J] | None:
        for band in (self.interactive, self.background):
            if band:
                requester, tickets = next(iter(band.items()))
                ticket = tickets.popleft()
                if tickets:
                    band.move_to_end(requester)  # served: to the back of the rotation
                else:
                    del band[requester]
                return ticket
        return None

    def order(self) -> list[Ticket[J]]:
        """The serving order if nothing else arrived: rounds over the rotation, band by band."""
        ordered: list[Ticket[J]] = []
        for band in (self.interactive, self.background):
            for round_ in itertools.zip_longest(*band.values()):
                ordered.extend(t for t in round_ if t is not None)
        return ordered

    def __len__(self) -> int:
        return sum(len(t) for band in (self.interactive, self.background) for t in band.values())


Watcher = Callable[[QueuePlace | None], None]


class FairQueue(Generic[J]):
    """Admits at most `slots` requests at a time, in fair order; see the module docstring."""

    def __init__(
        self,
        *,
        slots: int = 1,
        max_wait_s: float = 180.0,
        max_waiting: int = 64,
        initial_job_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if slots < 1:
            raise ValueError("a queue needs at least one slot")
        self.slots = slots
        self.max_wait_s = max_wait_s
        self.max_waiting = max_waiting
        self._avg_job_s = initial_job_s
        self._clock = clock
        self._lock = threading.RLock()
        self._lines: _Lines[J] = _Lines()
        self._running: list[Ticket[J]] = []
        self._arrivals = itertools.count()
        self._watchers: dict[str, list[Watcher]] = {}
        self._last_told: dict[int, QueuePlace | None] = {}

    # -- what callers and workers do -----------------------------------------------------
    def submit(
        self, job: J, *, requester: str | None, background: bool, on_start: Callable[[Ticket[J]], object]
    ) -> Ticket[J]:
        """Queue a job (or start it at once if a slot is free); `QueueTooLong` past the bound."""
        with self._lock:
            arrival = next(self._arrivals)
            # No identity: a requester of its own, so it takes its turn in the rotation.
            who = requester or f"#anonymous-{arrival}"
            ticket = Ticket(job, who, background, arrival, on_start)
            self._lines.add(ticket)
            wait_s = self._estimates().get(id(ticket), 0.0)
            waiting = len(self._lines)
            if waiting > self.max_waiting or wait_s > self.max_wait_s:
                self._lines.remove(ticket)
                raise QueueTooLong(waiting=waiting - 1, wait_s=wait_s)
            self._changed()
            return ticket

    def withdraw(self, ticket: Ticket[J]) -> None:
        """A waiting request leaves the line (its caller stopped waiting); others move up."""
        with self._lock:
            if ticket.state != "waiting":
                return
            self._lines.remove(ticket)
            ticket.state = "withdrawn"
            self._changed()

    def finish(self, ticket: Ticket[J], *, measured: bool = True) -> None:
        """A running request is over: free its slot; `measured` feeds the job-time estimate."""
        with self._lock:
            if ticket.state != "running":
                return
            ticket.state = "done"
            self._running.remove(ticket)
            if measured and ticket.started_at is not None:
                took = self._clock() - ticket.started_at
                self._avg_job_s = (1 - _SMOOTHING) * self._avg_job_s + _SMOOTHING * took
            self._changed()

    def release(self, ticket: Ticket[J], *, measured: bool = True) -> None:
        """Whatever state it is in, the ticket stops holding a place or a slot."""
        with self._lock:
            self.withdraw(ticket)
            self.finish(ticket, measured=measured)

    def drain(self) -> list[Ticket[J]]:
        """Withdraw every waiting ticket (shutting down) and return them, to be told."""
        with self._lock:
            drained = self._lines.order()
            for ticket in drained:
                self.withdraw(ticket)
            return drained

    # -- what the UI reads -----------------------------------------------------------------
    @property
    def avg_job_s(self) -> float:
        return self._avg_job_s

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._lines)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def place(self, requester: str) -> QueuePlace | None:
        """The place of the requester's first waiting request; None when nothing of theirs waits."""
        with self._lock:
            return self._place_of(requester, self._lines.order(), self._estimates())

    def watch(self, requester: str, watcher: Watcher) -> Callable[[], None]:
        """Call `watcher` with the requester's place now and whenever it changes; returns the
        function that stops watching."""
        with self._lock:
            self._watchers.setdefault(requester, []).append(watcher)
            told = self.place(requester)
            self._last_told[id(watcher)] = told
            watcher(told)

        def stop() -> None:
            with self._lock:
                watchers = self._watchers.get(requester, [])
                if watcher in watchers:
                    watchers.remove(watcher)
                if not watchers:
                    self._watchers.pop(requester, None)
                self._last_told.pop(id(watcher), None)

        return stop

    async def places(self, requester: str) -> AsyncIterator[QueuePlace | None]:
        """The requester's place as an async iterator on the caller's loop (first: the place now)."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[QueuePlace | None] = asyncio.Queue()

        def hand_over(place: QueuePlace | None) -> None:
            # The watching loop may be gone; its generator's `finally` stops the watch.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(inbox.put_nowait, place)

        stop = self.watch(requester, hand_over)
        try:
            while True:
                yield await inbox.get()
        finally:
            stop()

    # -- inside --------------------------------------------------------------------------
    def _has_free_slot(self) -> bool:
        return len(self._running) < self.slots

    def _changed(self) -> None:
        """Start what the free slots allow, then tell every watcher whose place changed."""
        while self._has_free_slot():
            ticket = self._lines.pop_next()
            if ticket is None:
                break
            ticket.state, ticket.started_at = "running", self._clock()
            self._running.append(ticket)
            _safely(ticket.on_start, ticket)
        self._tell_watchers()

    def _tell_watchers(self) -> None:
        if not self._watchers:
            return
        order, estimates = self._lines.order(), self._estimates()
        for requester, watchers in list(self._watchers.items()):
            place = self._place_of(requester, order, estimates)
            for watcher in list(watchers):
                if self._last_told.get(id(watcher), ...) != place:
                    self._last_told[id(watcher)] = place
                    _safely(watcher, place)

    def _place_of(
        self, requester: str, order: list[Ticket[J]], estimates: dict[int, float]
    ) -> QueuePlace | None:
        for position, ticket in enumerate(order, start=1):
            if ticket.requester == requester:
                return QueuePlace(position=position, wait_s=estimates[id(ticket)], waiting=len(order))
        return None

    def _estimates(self) -> dict[int, float]:
        """Estimated seconds until each waiting ticket starts, every job taking the average."""
        order = self._lines.order()
        starts = self._start_times(order)
        return {id(ticket): start for ticket, start in zip(order, starts, strict=True)}

    def _start_times(self, order: list[Ticket[J]]) -> list[float]:
        now, avg = self._clock(), self._avg_job_s
        # When each slot frees up: a running job is assumed to take the average (at least 0 left).
        free = [max(0.0, avg - (now - (t.started_at or now))) for t in self._running]
        free += [0.0] * (self.slots - len(free))
        heapq.heapify(free)
        starts: list[float] = []
        for _ in order:
            start = heapq.heappop(free)
            starts.append(start)
            heapq.heappush(free, start + avg)
        return starts


class QueuedModel(ModelWrapper):
    """Any model behind a `FairQueue`: at most `queue.slots` streams in flight at once.

    Used for a private server (`models.local.server_url`): its `--parallel` slots generate
    concurrently, and everyone past them waits here in fair order instead of at the server
    (llama-cpp-python's server would even interrupt a running stream for a new request).
    """

    def __init__(self, inner: ChatModel, queue: FairQueue[ChatRequest]) -> None:
        super().__init__(inner)
        self.queue = queue

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()

        def on_start(_: Ticket[ChatRequest]) -> None:
            loop.call_soon_threadsafe(_resolve, started)

        ticket = self.queue.submit(
            request, requester=request.requester, background=request.background, on_start=on_start
        )
        finished = False
        try:
            await started
            async for event in self.inner.stream(request):
                yield event
            finished = True
        finally:
            # Waiting: leave the line; running: free the slot (a broken stream is not measured).
            self.queue.release(ticket, measured=finished)


def server_queue(settings: LocalModelSettings) -> FairQueue[ChatRequest]:
    """The queue in front of a private server: one slot per `--parallel` slot it was started with."""
    return FairQueue(
        slots=settings.server_parallel,
        max_wait_s=settings.queue_max_wait_s,
        max_waiting=settings.queue_size,
    )


def _safely(callback: Callable[[T], object], argument: T) -> None:
    """A callback's failure is its own: it must never break the queue for everyone else."""
    try:
        callback(argument)
    except Exception:
        log.exception("a queue callback failed")


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def queue_of(model: object) -> FairQueue[object] | None:
    """The fair queue behind a (wrapped) model, if it has one: wrappers are unwrapped via `inner`."""
    for layer in _layers(model):
        queue = getattr(layer, "queue", None)
        if isinstance(queue, FairQueue):
            return queue
    return None


def _layers(model: object) -> Iterator[object]:
    seen: set[int] = set()
    while model is not None and id(model) not in seen:
        seen.add(id(model))
        yield model
        model = getattr(model, "inner", None)
