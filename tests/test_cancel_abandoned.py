"""A closed tab's turn stops; a page that reconnects keeps its turn (issue 17).

Chainlit cancels a session's task on Stop but not on disconnect. These run a real pipeline turn as
the session's task with a model that, after its first words, waits until told to go on: the
reproduction shows the turn and its model stream stay alive after the page left unless
`stop_when_abandoned` stops them. The grace is 0 here; events, not time, order everything, and
`GUARD_S` only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from assistant.ui.abandoned_turns import stop_if_gone, stop_when_abandoned
from models.base import ChatRequest, StreamEnd, StreamEvent, TextDelta, Usage
from tests.support.privacy import ScriptedPrivacy

GUARD_S = 30.0


class HeldModel:
    """Says its first words, then waits for `go` before finishing: a long generation."""

    name, kind, context_window = "held-local", "local", 4096

    def __init__(self) -> None:
        self.first_words, self.go = asyncio.Event(), asyncio.Event()
        self.cancelled = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        try:
            yield TextDelta("Here is ")
            self.first_words.set()
            await self.go.wait()
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise
        yield TextDelta("the rest.")
        yield StreamEnd(
            model=self.name, kind="local", usage=Usage(prompt_tokens=1, completion_tokens=3),
            finish_reason="stop", latency_ms=1.0, ttft_ms=1.0, text="Here is the rest.",
        )  # fmt: skip


@dataclass
class FakeSession:
    """The two fields of Chainlit's `WebsocketSession` the stop reads."""

    socket_id: str
    current_task: asyncio.Task[Any] | None = None


async def a_turn_in_progress() -> tuple[HeldModel, FakeSession, list[object]]:
    model = HeldModel()
    pipeline = ChatPipeline(
        settings=Settings(), models=ModelSet(local=model, hosted=[]),  # type: ignore[arg-type]
        privacy=ScriptedPrivacy(),  # type: ignore[arg-type]
    )  # fmt: skip
    events: list[object] = []

    async def turn() -> None:
        conversation = Conversation(id="t1", principal=Principal(user_id="alice"))
        async for event in pipeline.run(conversation, "Tell me a long story"):
            events.append(event)

    session = FakeSession(socket_id="socket-1", current_task=asyncio.create_task(turn()))
    await model.first_words.wait()
    return model, session, events


async def finished(task: asyncio.Task[Any] | None) -> bool:
    assert task is not None
    done, _ = await asyncio.wait({task}, timeout=GUARD_S)
    return task in done


async def test_a_closed_pages_turn_stops_and_its_model_stream_is_closed() -> None:
    model, session, events = await a_turn_in_progress()
    assert stop_when_abandoned(session, grace_s=0) is not None
    try:
        assert await finished(session.current_task), "the abandoned turn kept running"
    finally:
        model.go.set()
    assert session.current_task is not None and session.current_task.cancelled()
    assert model.cancelled == 1
    assert not any(isinstance(e, TurnResult) and e.outcome == "ok" for e in events)


async def test_a_page_that_reconnects_keeps_its_turn() -> None:
    model, session, events = await a_turn_in_progress()
    assert stop_when_abandoned(session, grace_s=0) is not None
    session.socket_id = "socket-2"  # Chainlit's `restore` on reconnect, before the grace ends
    model.go.set()
    assert await finished(session.current_task)
    assert session.current_task is not None and not session.current_task.cancelled()
    assert model.cancelled == 0
    result = events[-1]
    assert isinstance(result, TurnResult) and result.answer == "Here is the rest."


async def test_only_the_task_running_when_the_page_left_is_stopped() -> None:
    model, session, _ = await a_turn_in_progress()
    left_with = session.current_task
    assert left_with is not None
    later = asyncio.create_task(asyncio.Event().wait())  # a newer task of the same session
    session.current_task = later
    try:
        assert not stop_if_gone(session, "socket-1", left_with)
        assert not left_with.done() and not later.done()
    finally:
        later.cancel()
        model.go.set()
        await asyncio.gather(left_with, later, return_exceptions=True)


async def test_nothing_to_stop_when_no_turn_runs() -> None:
    assert stop_when_abandoned(FakeSession(socket_id="s")) is None
