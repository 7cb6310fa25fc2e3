"""The waiting user sees their place in the private model's line, updated, then gone when served.

`render_turn` against a real Chainlit context whose emitter records what would reach the browser;
the queue is a real `FairQueue` on a frozen clock, driven by hand (no model, no thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from chainlit.context import context, init_http_context

from assistant.identity import Principal
from assistant.turns import AnswerDelta, Conversation, Receipt, TurnResult
from assistant.ui.chat_render import render_turn
from assistant.ui.queue_status import QUEUE_AUTHOR, about, ordinal, place_text
from models.local_queue import FairQueue, QueuePlace
from routing.tiers import Route, Tier


class Recorder:
    """Every step the UI sends, updates or deletes, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def install(self) -> None:
        init_http_context()
        emitter = context.emitter
        for name in ("send_step", "update_step", "delete_step", "stream_start"):
            setattr(emitter, name, self._recorder(name))

        async def send_token(**kwargs: Any) -> None:
            self.events.append(("token", kwargs))

        emitter.send_token = send_token  # type: ignore[method-assign,assignment]

    def _recorder(self, name: str) -> Any:
        async def record(data: dict[str, Any]) -> None:
            self.events.append((name, data))

        return record

    def queue_messages(self) -> list[tuple[str, str]]:
        return [
            (name, data.get("output", ""))
            for name, data in self.events
            if name != "token" and data.get("name") == QUEUE_AUTHOR
        ]


class WaitingPipeline:
    """Takes a place in the queue like the private model would, answers once started."""

    def __init__(self, queue: FairQueue[str]) -> None:
        self.models = SimpleNamespace(local=SimpleNamespace(queue=queue))
        self.queue = queue

    async def run(self, conversation: Conversation, text: str) -> AsyncIterator[object]:
        loop, started = asyncio.get_running_loop(), asyncio.Event()
        ticket = self.queue.submit(
            text,
            requester=conversation.principal.user_id,
            background=False,
            on_start=lambda _: loop.call_soon_threadsafe(started.set),
        )
        await started.wait()
        yield AnswerDelta("Here you are.")
        self.queue.finish(ticket)
        receipt = Receipt(tier=Tier.PUBLIC, route=Route.LOCAL, rule="r", model="m", model_kind="local")
        yield TurnResult(
            answer="Here you are.", outcome="ok", route="local", model="m", latency_ms=1.0, receipt=receipt
        )


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the UI never got there")


@pytest.fixture
async def recorder() -> Recorder:
    rec = Recorder()
    rec.install()
    return rec


async def test_the_place_is_shown_updated_and_removed_once_served(recorder: Recorder) -> None:
    queue: FairQueue[str] = FairQueue(slots=1, initial_job_s=10.0, clock=lambda: 0.0)
    others = [queue.submit(job, requester="other", background=False, on_start=lambda _: None) for job in "ab"]
    conversation = Conversation(id="t1", principal=Principal(user_id="avery"))
    turn = asyncio.create_task(render_turn(conversation, "hello", WaitingPipeline(queue)))
    await until(lambda: len(recorder.queue_messages()) == 1)
    queue.finish(others[0], measured=False)  # the other user's second request starts: avery is next
    await until(lambda: len(recorder.queue_messages()) == 2)
    queue.finish(others[1], measured=False)  # avery's turn starts: the place message goes
    result = await asyncio.wait_for(turn, timeout=10)
    assert result is not None and result.answer == "Here you are."
    assert recorder.queue_messages() == [
        ("send_step", "The private model is answering others first: you're 2nd in line, about 20 s."),
        ("update_step", "The private model is answering others first: you're next, about 10 s."),
        ("delete_step", "The private model is answering others first: you're next, about 10 s."),
    ]


async def test_no_place_message_when_nobody_is_ahead(recorder: Recorder) -> None:
    queue: FairQueue[str] = FairQueue(slots=1, clock=lambda: 0.0)
    conversation = Conversation(id="t2", principal=Principal(user_id="avery"))
    result = await render_turn(conversation, "hello", WaitingPipeline(queue))
    assert result is not None and recorder.queue_messages() == []


def test_place_sentences() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
    ]  # fmt: skip
    assert [about(s) for s in (2, 38, 150)] == ["a few seconds", "about 40 s", "about 2 min"]
    third = place_text(QueuePlace(position=3, wait_s=38, waiting=5))
    assert third.endswith("you're 3rd in line, about 40 s.")
