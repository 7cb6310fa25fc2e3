"""Retries: only before the first delta, bounded, with backoff and Retry-After within a budget."""

from __future__ import annotations

import pytest

from models.base import (
    ChatMessage,
    ChatRequest,
    ModelAuthError,
    ModelBadResponse,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    StreamCutOff,
    TextDelta,
    collect,
)
from models.fakes import QueueModel
from routing.reliability_settings import ReliabilitySettings
from routing.retry import Attempt, RetryingModel, RetryPolicy, attempts_of

REQUEST = ChatRequest.of([ChatMessage(role="user", content="hello")])


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def retrying(inner: QueueModel, time: FakeTime, attempts: list[Attempt], **policy: float) -> RetryingModel:
    return RetryingModel(
        inner,
        RetryPolicy(**policy),  # type: ignore[arg-type]
        on_attempt=attempts.append,
        sleep=time.sleep,
        clock=time.clock,
        rng=lambda: 1.0,
    )


async def test_retries_transient_failures_then_answers() -> None:
    inner = QueueModel(ModelUnavailable("down"), ModelTimeout("slow"), "fine")
    time, attempts = FakeTime(), []
    end = await collect(retrying(inner, time, attempts, max_attempts=3).stream(REQUEST))
    assert end.text == "fine"
    assert len(inner.requests) == 3
    assert [a.outcome for a in attempts] == ["retry", "retry", "ok"]
    assert [a.error for a in attempts] == ["ModelUnavailable", "ModelTimeout", None]
    # Full jitter with rng=1.0 is the exponential ceiling: base, then 2 * base.
    assert time.sleeps == [0.25, 0.5]


async def test_gives_up_after_max_attempts_and_attaches_the_attempts() -> None:
    inner = QueueModel(default=ModelBadResponse("garbage"))
    time, attempts = FakeTime(), []
    with pytest.raises(ModelBadResponse) as caught:
        await collect(retrying(inner, time, attempts, max_attempts=3).stream(REQUEST))
    assert len(inner.requests) == 3
    assert [a.outcome for a in attempts_of(caught.value)] == ["retry", "retry", "gave_up"]
    assert attempts_of(caught.value) == tuple(attempts)


async def test_does_not_retry_errors_that_will_not_go_away() -> None:
    inner = QueueModel(ModelAuthError("bad key", status=401), "never")
    time, attempts = FakeTime(), []
    with pytest.raises(ModelAuthError):
        await collect(retrying(inner, time, attempts).stream(REQUEST))
    assert len(inner.requests) == 1
    assert attempts[0].outcome == "not_retryable" and attempts[0].status == 401
    assert time.sleeps == []


async def test_never_replays_after_text_reached_the_consumer() -> None:
    inner = QueueModel(["Hel", ModelUnavailable("connection dropped")], "second answer")
    time, attempts = FakeTime(), []
    seen: list[str] = []
    with pytest.raises(ModelUnavailable):
        async for event in retrying(inner, time, attempts).stream(REQUEST):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert seen == ["Hel"]
    assert len(inner.requests) == 1
    assert attempts[-1].outcome == "after_text"


async def test_cut_off_stream_is_not_retried() -> None:
    inner = QueueModel(StreamCutOff("cut", partial="Hel"), "again")
    time, attempts = FakeTime(), []
    # StreamCutOff is retryable in general, but it is not one of the errors retried before text.
    with pytest.raises(StreamCutOff):
        await collect(retrying(inner, time, attempts).stream(REQUEST))
    assert len(inner.requests) == 1


async def test_honours_retry_after_within_the_budget() -> None:
    inner = QueueModel(ModelRateLimited("slow down", retry_after=2.0), "ok")
    time, attempts = FakeTime(), []
    end = await collect(retrying(inner, time, attempts, budget_s=8.0).stream(REQUEST))
    assert end.text == "ok"
    assert time.sleeps == [2.0]
    assert attempts[0].wait_s == 2.0


async def test_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    inner = QueueModel(ModelRateLimited("slow down", retry_after=30.0), "never")
    time, attempts = FakeTime(), []
    with pytest.raises(ModelRateLimited) as caught:
        await collect(retrying(inner, time, attempts, budget_s=8.0).stream(REQUEST))
    assert time.sleeps == []
    assert len(inner.requests) == 1
    assert "Retry-After 30s exceeds" in (attempts[0].reason or "")
    assert any("Retry-After" in note for note in caught.value.__notes__)


async def test_backoff_stops_when_the_budget_is_used_up() -> None:
    inner = QueueModel(default=ModelUnavailable("down"))
    time, attempts = FakeTime(), []
    with pytest.raises(ModelUnavailable):
        await collect(
            retrying(
                inner, time, attempts, max_attempts=10, base_backoff_s=1.0, max_backoff_s=8.0, budget_s=5.0
            ).stream(REQUEST)
        )
    # Waits 1, 2 (total 3); the next wait of 4 would end past the 5 s budget.
    assert time.sleeps == [1.0, 2.0]
    assert attempts[-1].outcome == "gave_up" and "budget" in (attempts[-1].reason or "")


def test_full_jitter_stays_under_the_capped_exponential() -> None:
    policy = RetryPolicy(base_backoff_s=0.5, max_backoff_s=3.0)
    assert [policy.backoff_s(n, lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff_s(4, lambda: 0.0) == 0.0
    assert policy.backoff_s(2, lambda: 0.5) == 0.5


def test_policy_from_settings() -> None:
    settings = ReliabilitySettings(retry_attempts=4, backoff_base_s=0.1, backoff_max_s=2, retry_budget_s=6)
    assert RetryPolicy.from_settings(settings) == RetryPolicy(
        max_attempts=4, base_backoff_s=0.1, max_backoff_s=2, budget_s=6
    )
    with pytest.raises(ValueError):
        ReliabilitySettings(backoff_base_s=5, backoff_max_s=1)


async def test_closing_the_consumer_closes_the_inner_stream() -> None:
    inner = QueueModel(["a", "b", "c"], delay_s=0.01)
    time, attempts = FakeTime(), []
    stream = retrying(inner, time, attempts).stream(REQUEST)
    assert isinstance(await anext(stream), TextDelta)
    await stream.aclose()
    assert inner.cancelled == 1
    assert attempts[-1].outcome == "cancelled"


def test_wrapper_reports_the_inner_model() -> None:
    inner = QueueModel(name="strong", kind="hosted", context_window=4096)
    model = RetryingModel(inner)
    assert (model.name, model.kind, model.context_window) == ("strong", "hosted", 4096)
    assert model.count_tokens("abcdefgh") == inner.count_tokens("abcdefgh")
