"""Circuit breaker: opens after repeated failures, fails fast, probes after a cool-down, closes."""

from __future__ import annotations

import threading

import pytest

from models.base import ChatMessage, ChatRequest, ModelAuthError, ModelError, ModelUnavailable, collect
from models.fakes import QueueModel
from routing.breaker import BreakerModel, BreakerRegistry, BreakerState, CircuitBreaker, CircuitOpen
from routing.reliability_settings import ReliabilitySettings
from routing.retry import RetryingModel, RetryPolicy, attempts_of

REQUEST = ChatRequest.of([ChatMessage(role="user", content="hello")])


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_fails_fast() -> None:
    clock = Clock()
    breaker = CircuitBreaker("http://h/v1", threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        breaker.acquire()
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.acquire()
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen) as caught:
        breaker.acquire()
    assert "circuit open" in str(caught.value)
    assert isinstance(caught.value, ModelUnavailable) and not caught.value.retryable
    snapshot = breaker.snapshot()
    assert snapshot.opened_total == 1 and snapshot.retry_in_s == pytest.approx(10)


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker("k", threshold=2, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.snapshot().consecutive_failures == 1


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker("k", threshold=1, cooldown_s=10, clock=clock)
    breaker.record_failure()
    clock.now += 9.9
    assert breaker.state == "open"
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.acquire() is True  # the probe
    with pytest.raises(CircuitOpen):
        breaker.acquire()  # only one probe at a time
    breaker.record_success(probe=True)
    assert breaker.state == "closed"
    assert breaker.acquire() is False


def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker("k", threshold=5, cooldown_s=10, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.now += 10
    probe = breaker.acquire()
    breaker.record_failure(probe=probe)
    assert breaker.state == "open"
    assert breaker.snapshot().opened_total == 2
    clock.now += 10
    assert breaker.acquire() is True


def test_state_changes_are_reported() -> None:
    clock = Clock()
    seen: list[BreakerState] = []
    breaker = CircuitBreaker("k", threshold=1, cooldown_s=5, clock=clock, on_change=seen.append)
    breaker.record_failure()
    clock.now += 5
    breaker.record_success(probe=breaker.acquire())
    assert [s.state for s in seen] == ["open", "half_open", "closed"]


def test_concurrent_failures_are_all_counted() -> None:
    breaker = CircuitBreaker("k", threshold=1_000_000)

    def hammer() -> None:
        for _ in range(2000):
            breaker.record_failure()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.snapshot().consecutive_failures == 16000


def test_registry_keeps_one_breaker_per_endpoint() -> None:
    registry = BreakerRegistry.from_settings(ReliabilitySettings(breaker_failure_threshold=2))
    a = registry.for_endpoint("http://127.0.0.1:9/v1/")
    assert registry.for_endpoint("http://127.0.0.1:9/v1") is a
    assert registry.for_endpoint("http://127.0.0.1:10/v1") is not a
    assert a.threshold == 2
    assert {s.key for s in registry.snapshots()} == {"http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"}


async def test_breaker_model_counts_endpoint_failures_only() -> None:
    breaker = CircuitBreaker("k", threshold=2, clock=Clock())
    inner = QueueModel(ModelError("bad request", status=400), ModelAuthError("bad key"), "ok", kind="hosted")
    model = BreakerModel(inner, breaker)
    with pytest.raises(ModelError):
        await collect(model.stream(REQUEST))
    assert breaker.snapshot().consecutive_failures == 0  # a refused request says nothing about the endpoint
    with pytest.raises(ModelAuthError):
        await collect(model.stream(REQUEST))
    assert breaker.snapshot().consecutive_failures == 1
    assert (await collect(model.stream(REQUEST))).text == "ok"
    assert breaker.snapshot().consecutive_failures == 0


async def test_open_breaker_does_not_call_the_model() -> None:
    clock = Clock()
    breaker = CircuitBreaker("k", threshold=1, cooldown_s=30, clock=clock)
    inner = QueueModel(ModelUnavailable("down"), "back", kind="hosted")
    model = BreakerModel(inner, breaker)
    with pytest.raises(ModelUnavailable):
        await collect(model.stream(REQUEST))
    with pytest.raises(CircuitOpen):
        await collect(model.stream(REQUEST))
    assert len(inner.requests) == 1
    clock.now += 30
    assert (await collect(model.stream(REQUEST))).text == "back"
    assert breaker.state == "closed"


async def test_cancelled_probe_frees_the_probe_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker("k", threshold=1, cooldown_s=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    model = BreakerModel(QueueModel(["a", "b"], "c", delay_s=0.01), breaker)
    stream = model.stream(REQUEST)
    await anext(stream)
    await stream.aclose()
    assert breaker.state == "half_open"
    assert (await collect(model.stream(REQUEST))).text == "c"
    assert breaker.state == "closed"


async def test_retries_stop_as_soon_as_the_circuit_opens() -> None:
    breaker = CircuitBreaker("k", threshold=2, cooldown_s=30, clock=Clock())
    inner = QueueModel(default=ModelUnavailable("down"), kind="hosted")

    async def no_sleep(_seconds: float) -> None:
        return None

    model = RetryingModel(BreakerModel(inner, breaker), RetryPolicy(max_attempts=5), sleep=no_sleep)
    with pytest.raises(CircuitOpen) as caught:
        await collect(model.stream(REQUEST))
    assert len(inner.requests) == 2
    assert [a.outcome for a in attempts_of(caught.value)] == ["retry", "retry", "not_retryable"]
