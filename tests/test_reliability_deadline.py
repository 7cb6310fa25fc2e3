"""One deadline per turn, and endpoint-level skipping in the fallback loop.

Scripted models only; what is asserted is which models were called, which were skipped and why,
and what the turn ended with, never how long anything took.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from models.base import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    ModelError,
    ModelKind,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    StreamEvent,
    collect,
)
from models.fakes import QueueModel
from routing.breaker import BreakerModel, CircuitBreaker
from routing.fallback import Candidate, FallbackExhausted, FallbackModel, FellBack, in_order, marks_endpoint
from routing.reliability_settings import ReliabilitySettings
from routing.retry import DeadlinePassed, RetryingModel, RetryPolicy, TurnDeadline, deadline_scope

REQUEST = ChatRequest.of([ChatMessage(role="user", content="Name three colours.")])
API = "https://api.example/v1"
OTHER = "https://other.example/v1"


class OnEndpoint(QueueModel):
    """A scripted hosted model that names its endpoint, as `HostedModel` does."""

    def __init__(self, *replies: object, name: str, endpoint: str = API) -> None:
        super().__init__(*replies, name=name, kind="hosted")  # type: ignore[arg-type]
        self.endpoint = endpoint


class Hung:
    """A hosted model whose endpoint accepted the call and never sends a byte."""

    kind: ModelKind = "hosted"
    context_window = 2048

    def __init__(self, name: str, endpoint: str = API) -> None:
        self.name, self.endpoint, self.calls = name, endpoint, 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        await asyncio.Event().wait()
        yield  # type: ignore[misc]  # unreachable: makes this an async generator


def local(*replies: object) -> QueueModel:
    return QueueModel(*replies, name="smol", kind="local")  # type: ignore[arg-type]


async def walk(models: list[ChatModel], **kwargs: object) -> tuple[list[object], list[tuple[str, str]]]:
    """Run `in_order` over `models` with a plain attempt; return the items and the skips."""
    skipped: list[tuple[str, str]] = []

    async def attempt(candidate: Candidate) -> AsyncIterator[StreamEvent]:
        async for event in candidate.model.stream(REQUEST):
            yield event

    candidates = [Candidate(model, pseudonymize=False) for model in models]
    items: list[object] = [
        item
        async for item in in_order(
            candidates,
            attempt,  # type: ignore[arg-type]
            on_skip=lambda model, reason: skipped.append((model.name, reason)),
            **kwargs,  # type: ignore[arg-type]
        )
    ]
    return items, skipped


async def test_a_timeout_skips_the_next_model_on_the_same_endpoint() -> None:
    strong = OnEndpoint(ModelTimeout("no first token"), name="strong")
    cheap = OnEndpoint("never asked", name="cheap")
    fallback = local("local answer")
    items, skipped = await walk([strong, cheap, fallback])
    assert (len(strong.requests), len(cheap.requests), len(fallback.requests)) == (1, 0, 1)
    assert skipped == [("cheap", f"endpoint {API} failed earlier in this turn")]
    fell = [item for item in items if isinstance(item, FellBack)]
    # The notice names the model that really answers, not the skipped one.
    assert [(f.failed.name, f.next.name) for f in fell] == [("strong", "smol")]


async def test_a_connection_failure_marks_the_endpoint_but_not_another_one() -> None:
    strong = OnEndpoint(ModelUnavailable("connection failed"), name="strong")
    cheap = OnEndpoint("never asked", name="cheap")
    elsewhere = OnEndpoint("other endpoint answers", name="elsewhere", endpoint=OTHER)
    items, skipped = await walk([strong, cheap, elsewhere, local()])
    assert [name for name, _ in skipped] == ["cheap"]
    assert len(elsewhere.requests) == 1 and items[-1].text == "other endpoint answers"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "error",
    [ModelUnavailable("server error 500", status=500), ModelRateLimited("slow down", status=429)],
)
async def test_an_http_error_is_about_the_model_so_the_next_model_is_tried(error: ModelError) -> None:
    strong = OnEndpoint(error, name="strong")
    cheap = OnEndpoint("cheap answer", name="cheap")
    items, skipped = await walk([strong, cheap, local()])
    assert skipped == [] and len(cheap.requests) == 1
    assert items[-1].text == "cheap answer"  # type: ignore[attr-defined]


def test_which_errors_mark_an_endpoint() -> None:
    assert marks_endpoint(ModelTimeout("read timed out"))
    assert marks_endpoint(ModelUnavailable("connection refused"))
    assert not marks_endpoint(ModelUnavailable("server error 503", status=503))
    assert not marks_endpoint(ModelError("request refused with 400", status=400))


async def test_wrapped_hosted_models_are_matched_by_their_endpoint() -> None:
    """The product's wrappers (retry around breaker) hide the endpoint one layer deeper."""
    strong = OnEndpoint(ModelTimeout("no first token"), name="strong")
    cheap = OnEndpoint("never asked", name="cheap")
    policy = RetryPolicy(max_attempts=1)

    def wrap(model: OnEndpoint) -> ChatModel:
        return RetryingModel(BreakerModel(model, CircuitBreaker(API)), policy)

    _, skipped = await walk([wrap(strong), wrap(cheap), local("local answer")])
    assert [name for name, _ in skipped] == ["cheap"] and cheap.requests == []


async def test_a_passed_deadline_skips_every_hosted_model_and_the_local_one_answers() -> None:
    strong, cheap = OnEndpoint("s", name="strong"), OnEndpoint("c", name="cheap", endpoint=OTHER)
    items, skipped = await walk([strong, cheap, local("local answer")], deadline_s=0.0)
    assert strong.requests == [] and cheap.requests == []
    passed = "the turn's hosted deadline passed"
    assert skipped == [("strong", passed), ("cheap", passed)]
    assert items[-1].text == "local answer"  # type: ignore[attr-defined]


async def test_a_passed_deadline_without_a_local_model_ends_with_a_clear_error() -> None:
    with pytest.raises(DeadlinePassed) as caught:
        await walk([OnEndpoint("s", name="strong")], deadline_s=0.0)
    assert caught.value.user_message == ModelTimeout.user_message


async def test_a_hung_endpoint_is_left_at_the_deadline_and_its_other_model_skipped() -> None:
    """The hosted part of the chain gets one deadline: the hung strong model is abandoned when it
    passes (a tiny deadline, so the test does not wait), the cheap one on the same endpoint is
    not called, and the local model answers."""
    strong, cheap = Hung("strong"), Hung("cheap")
    policy = RetryPolicy(max_attempts=3, base_backoff_s=0.0, max_backoff_s=0.0)
    chain = [RetryingModel(strong, policy), RetryingModel(cheap, policy), local("local answer")]
    items, skipped = await walk(chain, deadline_s=0.05)  # type: ignore[arg-type]
    assert (strong.calls, cheap.calls) == (1, 0)  # no retry after the deadline either
    assert [name for name, _ in skipped] == ["cheap"]
    fell = [item for item in items if isinstance(item, FellBack)]
    assert isinstance(fell[0].error, DeadlinePassed)
    assert items[-1].text == "local answer"  # type: ignore[attr-defined]


async def test_retries_stop_when_the_turn_deadline_is_nearer_than_the_backoff() -> None:
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731
    model = OnEndpoint(ModelUnavailable("down", status=503), "never asked", name="strong")
    policy = RetryPolicy(max_attempts=3, base_backoff_s=1.0, max_backoff_s=1.0, budget_s=30.0)
    retrying = RetryingModel(model, policy, clock=clock, rng=lambda: 1.0)  # backoff exactly 1 s
    with deadline_scope(TurnDeadline(0.5, clock)), pytest.raises(ModelUnavailable) as caught:
        await collect(retrying.stream(REQUEST))
    assert len(model.requests) == 1
    assert "deadline" in " ".join(caught.value.__notes__)


async def test_retries_continue_while_the_deadline_leaves_room() -> None:
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731
    model = OnEndpoint(ModelUnavailable("down", status=503), "second try", name="strong")
    policy = RetryPolicy(max_attempts=3, base_backoff_s=1.0, max_backoff_s=1.0, budget_s=30.0)

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    retrying = RetryingModel(model, policy, clock=clock, rng=lambda: 1.0, sleep=sleep)
    with deadline_scope(TurnDeadline(5.0, clock)):
        end = await collect(retrying.stream(REQUEST))
    assert end.text == "second try" and len(model.requests) == 2


async def test_fallback_model_walks_with_the_same_rules() -> None:
    strong = OnEndpoint(ModelTimeout("no first token"), name="strong")
    cheap = OnEndpoint("never asked", name="cheap")
    notices: list[str] = []
    chain = FallbackModel(
        strong, cheap, local("local answer"), on_fallback=lambda notice: notices.append(notice.to_model)
    )
    end = await collect(chain.stream(REQUEST))
    assert end.text == "local answer" and cheap.requests == [] and notices == ["smol"]


async def test_fallback_model_skips_hosted_models_once_its_deadline_passed() -> None:
    strong = OnEndpoint("never asked", name="strong")
    chain = FallbackModel(strong, local("local answer"), deadline_s=0.0)
    end = await collect(chain.stream(REQUEST))
    assert end.text == "local answer" and strong.requests == []


async def test_without_a_deadline_a_slow_walk_still_tries_every_model() -> None:
    """Background steps pass no deadline: only the endpoint rule applies to them."""
    strong = OnEndpoint(ModelUnavailable("server error 502", status=502), name="strong")
    cheap = OnEndpoint("cheap answer", name="cheap")
    items, skipped = await walk([strong, cheap, local()], deadline_s=None)
    assert skipped == [] and items[-1].text == "cheap answer"  # type: ignore[attr-defined]


async def test_every_failure_is_reported_when_nothing_answers() -> None:
    strong = OnEndpoint(ModelTimeout("no first token"), name="strong")
    cheap = OnEndpoint("never asked", name="cheap")
    with pytest.raises(FallbackExhausted) as caught:
        await walk([strong, cheap, local(ModelUnavailable("local down"))])
    assert [type(e) for e in caught.value.errors] == [ModelTimeout, ModelUnavailable]


def test_the_default_deadline_leaves_room_for_the_local_model_under_12_s() -> None:
    assert ReliabilitySettings().hosted_turn_deadline_s < 12.0
