"""The local fallback gets ready while a hosted model keeps the turn waiting (routing/warmup.py).

Scripted models only. What is asserted is which requests each model received and in what order
(the warm-up before the real fallback request, never anything of the user's in it), never how
long anything took: a hosted double waits on an event the warm-up sets, not on a clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from models.base import ChatMessage, ChatModel, ChatRequest, ModelKind, ModelTimeout, StreamEvent
from models.degeneration import LoopGuard
from models.fakes import QueueModel
from routing.fallback import Candidate, LocalOnlyModel, in_order
from routing.retry import RetryingModel, RetryPolicy
from routing.warmup import WARM_REQUEST, lazy_loader

SECRET = "My SSN is 078-05-1120, what now?"
REQUEST = ChatRequest.of([ChatMessage(role="user", content=SECRET)])


class LazyLocal(QueueModel):
    """A local double that, like `LocalModel`, loads on `start()`; it records the warm-up."""

    def __init__(self, *replies: object) -> None:
        super().__init__(*replies, name="lazy-local", kind="local")  # type: ignore[arg-type]
        self.starts = 0
        self.warmed = asyncio.Event()

    def start(self) -> None:
        self.starts += 1

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        if request == WARM_REQUEST:
            self.warmed.set()
        async for event in super().stream(request):
            yield event


class SlowUntilWarm:
    """A hosted model that sends nothing until the local model was warmed, then times out."""

    kind = "hosted"
    name = "slow-hosted"
    context_window = 2048

    def __init__(self, local: LazyLocal) -> None:
        self.local, self.requests = local, 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests += 1
        await self.local.warmed.wait()
        raise ModelTimeout("no first byte")
        yield  # type: ignore[unreachable]  # makes this an async generator


async def walk(models: list[ChatModel], **kwargs: object) -> list[object]:
    async def attempt(candidate: Candidate) -> AsyncIterator[StreamEvent]:
        async for event in candidate.model.stream(REQUEST):
            yield event

    candidates = [Candidate(model, pseudonymize=False) for model in models]
    return [item async for item in in_order(candidates, attempt, **kwargs)]  # type: ignore[arg-type]


def hosted(model: object) -> ChatModel:
    return RetryingModel(model, RetryPolicy(max_attempts=1))  # type: ignore[arg-type]


def test_a_slow_hosted_model_gets_the_local_model_warmed_before_it_is_needed() -> None:
    local = LazyLocal("ok", "the answer")
    chain: list[ChatModel] = [hosted(SlowUntilWarm(local)), LocalOnlyModel(LoopGuard(local))]
    items = asyncio.run(walk(chain, deadline_s=60, warm_local_after_s=0))
    assert local.starts == 1
    assert local.requests[0] == WARM_REQUEST  # loaded and evaluated before the fallback
    assert local.requests[1] == REQUEST
    assert "the answer" in [getattr(item, "text", None) for item in items]


def test_the_warm_up_carries_nothing_of_the_users() -> None:
    assert WARM_REQUEST.background and WARM_REQUEST.max_tokens == 1
    assert all(SECRET not in message.content for message in WARM_REQUEST.messages)


def test_a_hosted_model_that_answers_at_once_warms_nothing() -> None:
    local = LazyLocal("unused")
    fast = QueueModel("hello", name="fast-hosted", kind="hosted")  # type: ignore[arg-type]
    asyncio.run(walk([hosted(fast), LocalOnlyModel(LoopGuard(local))], deadline_s=60, warm_local_after_s=30))
    assert local.starts == 0 and local.requests == []


def test_a_walk_without_a_turn_deadline_warms_nothing() -> None:
    """Background steps (upload summaries) pass no deadline: nobody is waiting at a screen."""
    local = LazyLocal("the answer")
    failing = QueueModel(ModelTimeout("down"), name="down", kind="hosted")  # type: ignore[arg-type]
    asyncio.run(walk([hosted(failing), local], warm_local_after_s=0))
    assert local.requests == [REQUEST] and local.starts == 0


def test_each_model_is_warmed_once_per_process() -> None:
    local = LazyLocal("a", "first", "second")
    for _ in range(2):
        chain: list[ChatModel] = [hosted(SlowUntilWarm(local)), LocalOnlyModel(LoopGuard(local))]
        asyncio.run(walk(chain, deadline_s=60, warm_local_after_s=0))
    assert local.requests.count(WARM_REQUEST) == 1


def test_only_a_model_local_at_every_layer_and_loading_lazily_is_warmed() -> None:
    local = LazyLocal()
    assert lazy_loader(LocalOnlyModel(LoopGuard(local))) is local
    assert lazy_loader(QueueModel(name="double", kind="local")) is None  # nothing to load: left alone

    class HostedWithStart(LazyLocal):
        @property
        def kind(self) -> ModelKind:
            return "hosted"

    assert lazy_loader(LoopGuard(HostedWithStart())) is None
