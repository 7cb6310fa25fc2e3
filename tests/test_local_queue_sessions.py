"""A morning rush on the private model only: 10 users ask 3 questions each, all at once.

The real pipeline and the real `LocalModel` worker thread, with a scripted stand-in for llama.cpp
(logic only, no weights). Before the fair queue, 15 of these 30 turns were refused "busy, try
again in 37 s" and the same users were refused again and again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet
from assistant.privacy import FailClosedPrivacy
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from models.base import ChatMessage, ChatRequest, collect
from models.local import LocalModel
from models.settings import LocalModelSettings

USERS = 10
QUESTIONS = 3


class RushLlama:
    """Stands in for llama_cpp.Llama: records whose question it answers, in serving order.

    The first job holds until every user's first question is waiting, so the test does not
    depend on how fast the event loop hands the other nine to the queue.
    """

    def __init__(self, everyone_waiting: threading.Event) -> None:
        self.served: list[str] = []
        self._everyone_waiting = everyone_waiting
        self._held = False

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(range(len(data.split())))

    def create_chat_completion(self, messages: list[dict[str, Any]], **_: Any) -> Any:
        if not self.served and not self._held:
            self._held = True
            self._everyone_waiting.wait(timeout=20)  # if they never all queue, the asserts say so
        question = messages[-1]["content"]
        self.served.append(question)
        for word in ("noted:", question):
            time.sleep(0.005)
            yield {"choices": [{"delta": {"content": word + " "}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}


async def _session(pipeline: ChatPipeline, user: int) -> list[TurnResult]:
    conversation = Conversation(id=f"rush-{user}", principal=Principal(user_id=f"user-{user}"))
    results = []
    for question in range(1, QUESTIONS + 1):
        events = [e async for e in pipeline.run(conversation, f"user-{user} question-{question}")]
        assert isinstance(events[-1], TurnResult)
        results.append(events[-1])
    return results


@pytest.fixture
def rush() -> Any:
    everyone_waiting = threading.Event()
    llama = RushLlama(everyone_waiting)
    # The shipped defaults for the queue: nothing tuned for this test.
    model = LocalModel(Path("unused.gguf"), LocalModelSettings(), loader=lambda: llama)
    model.wait_ready()
    watcher = threading.Thread(target=_signal_when_waiting, args=(model, everyone_waiting), daemon=True)
    watcher.start()
    try:
        yield model, llama
    finally:
        everyone_waiting.set()
        model.close()


def _signal_when_waiting(model: LocalModel, everyone_waiting: threading.Event) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not everyone_waiting.is_set():
        if model.queue.waiting >= USERS - 1:  # one is running, the rest wait
            everyone_waiting.set()
        time.sleep(0.005)


async def test_ten_users_three_questions_each_nobody_refused_and_served_in_turn(rush: Any) -> None:
    model, llama = rush
    pipeline = ChatPipeline(
        settings=Settings(), models=ModelSet(local=model), privacy=FailClosedPrivacy("local-only test")
    )
    sessions = await asyncio.gather(*(_session(pipeline, user) for user in range(USERS)))
    results = [result for session in sessions for result in session]
    assert [r.outcome for r in results].count("busy") == 0
    assert all(r.route == "local" and r.answer.startswith("noted:") for r in results)
    assert len(llama.served) == USERS * QUESTIONS
    position = {question: index for index, question in enumerate(llama.served)}
    last_first = max(position[f"user-{u} question-1"] for u in range(USERS))
    first_third = min(position[f"user-{u} question-3"] for u in range(USERS))
    assert last_first < first_third, llama.served


class GatedLlama:
    """Each answer waits until the test opens its gate (threading: it runs on the worker)."""

    def __init__(self) -> None:
        self.served: list[str] = []
        self.gates: dict[str, threading.Event] = {}

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(range(len(data.split())))

    def create_chat_completion(self, messages: list[dict[str, Any]], **_: Any) -> Any:
        question = messages[-1]["content"]
        self.served.append(question)
        self.gates.setdefault(question, threading.Event()).wait(timeout=30)
        yield {"choices": [{"delta": {"content": question}, "finish_reason": "stop"}]}


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(4000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never got there")


def _ask(text: str, user: str) -> ChatRequest:
    return ChatRequest.of([ChatMessage(role="user", content=text)], max_tokens=8, requester=user)


async def test_a_user_who_stops_waiting_frees_their_place_in_the_worker_queue() -> None:
    llama = GatedLlama()
    model = LocalModel(Path("unused.gguf"), LocalModelSettings(), loader=lambda: llama)
    model.wait_ready()
    try:
        running = asyncio.create_task(collect(model.stream(_ask("a-1", "a"))))
        await until(lambda: bool(llama.served))  # a-1 is on the worker
        leaving = asyncio.create_task(collect(model.stream(_ask("b-1", "b"))))
        staying = asyncio.create_task(collect(model.stream(_ask("c-1", "c"))))
        await until(lambda: model.queue.waiting == 2)
        before = model.queue.place("c")
        assert before is not None and (before.position, before.waiting) == (2, 2)
        leaving.cancel()
        await until(lambda: model.queue.waiting == 1)
        place = model.queue.place("c")
        assert place is not None and place.position == 1
        llama.gates.setdefault("a-1", threading.Event()).set()
        llama.gates.setdefault("c-1", threading.Event()).set()
        assert (await running).text == "a-1" and (await staying).text == "c-1"
        assert llama.served == ["a-1", "c-1"]  # b-1 never reached the model
    finally:
        for gate in llama.gates.values():
            gate.set()
        model.close()


class EchoLlama:
    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(range(len(data.split())))

    def create_chat_completion(self, messages: list[dict[str, Any]], **_: Any) -> Any:
        yield {"choices": [{"delta": {"content": "ok"}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}


async def test_a_request_that_starts_inside_submit_is_served_and_the_worker_lives_on() -> None:
    """A free slot starts the request inside `submit`, before `submit` returns its ticket. The
    worker once read the ticket from the job, found none, and died: every later turn hung."""
    from models.base import ChatMessage, ChatRequest, StreamEnd

    model = LocalModel(Path("unused.gguf"), LocalModelSettings(), loader=EchoLlama)
    model.wait_ready()
    submit = model.queue.submit

    def slow_return(*args: Any, **kwargs: Any) -> Any:
        ticket = submit(*args, **kwargs)
        time.sleep(0.3)  # the submitting thread is preempted here; the worker runs first
        return ticket

    model.queue.submit = slow_return  # type: ignore[method-assign]
    request = ChatRequest.of([ChatMessage(role="user", content="hi")], max_tokens=4)
    try:
        for _ in range(2):  # the second proves the worker is still alive
            events = [e async for e in model.stream(request)]
            assert isinstance(events[-1], StreamEnd) and events[-1].text.strip() == "ok"
    finally:
        model.close()
