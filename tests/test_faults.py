"""Every injected fault ends in an answer or a clear `ModelError`, through the real wire.

The chain under test is what the pipeline builds for a public turn: the hosted model (real
llama_cpp.server behind the fault proxy) wrapped in a circuit breaker and retries, falling back
to the real local model. Durations are measured in `bench/bench_faults.py`; the guard here only
turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from models.base import ChatMessage, ChatRequest, ModelError, StreamCutOff, StreamEnd, TextDelta, collect
from models.hosted import HostedModel
from models.local import LocalModel
from models.settings import HostedModelSettings
from routing.breaker import BreakerModel, CircuitBreaker
from routing.fallback import FallbackNotice, chain_for
from routing.retry import Attempt, RetryingModel, RetryPolicy
from routing.tiers import Tier
from tests.support.proxy import FaultProxy
from tests.support.servers import SERVER_MODEL_ALIAS

pytestmark = pytest.mark.slow

HANG_GUARD_S = 30.0


def ask(text: str = "Say hello.", max_tokens: int = 8) -> ChatRequest:
    return ChatRequest.of([ChatMessage(role="user", content=text)], max_tokens=max_tokens, temperature=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class PublicChain:
    hosted: HostedModel
    local: LocalModel
    breaker: CircuitBreaker
    clock: Clock
    notices: list[FallbackNotice] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    def build(self) -> object:
        reliable = RetryingModel(
            BreakerModel(self.hosted, self.breaker),
            RetryPolicy(max_attempts=3, base_backoff_s=0.05, max_backoff_s=0.2, budget_s=6.0),
            on_attempt=self.attempts.append,
        )
        return chain_for(Tier.PUBLIC, reliable, self.local, on_fallback=self.notices.append)

    async def answer(self, request: ChatRequest | None = None) -> StreamEnd:
        model = self.build()
        async with asyncio.timeout(HANG_GUARD_S):
            return await collect(model.stream(request or ask()))  # type: ignore[attr-defined]


@pytest.fixture
async def chain(
    hosted_settings: HostedModelSettings, local_llama_model: LocalModel
) -> AsyncIterator[PublicChain]:
    hosted = HostedModel(SERVER_MODEL_ALIAS, hosted_settings)
    clock = Clock()
    breaker = CircuitBreaker(hosted.endpoint, threshold=3, cooldown_s=30.0, clock=clock)
    yield PublicChain(hosted=hosted, local=local_llama_model, breaker=breaker, clock=clock)
    await hosted.aclose()


PERSISTENT = [
    ("http_500", {}),
    ("rate_limit", {"retry_after": 30}),
    ("reset", {}),
    ("hang", {}),
    ("auth_401", {}),
    ("bad_json", {}),
    ("bad_sse", {}),
]


@pytest.mark.parametrize(("fault", "params"), PERSISTENT, ids=[p[0] for p in PERSISTENT])
async def test_a_persistent_fault_is_answered_locally_with_a_notice(
    chain: PublicChain, hosted_proxy: FaultProxy, fault: str, params: dict[str, float]
) -> None:
    hosted_proxy.set_fault(fault, times=None, **params)  # type: ignore[arg-type]
    end = await chain.answer()
    assert end.kind == "local" and end.text.strip()
    assert len(chain.notices) == 1
    assert chain.notices[0].from_kind == "hosted" and chain.notices[0].to_kind == "local"
    assert chain.notices[0].message.endswith("answered by the private local model.")
    assert chain.attempts and chain.attempts[-1].outcome in ("gave_up", "not_retryable")
    assert len(hosted_proxy.chat_exchanges()) == len(chain.attempts)


async def test_the_endpoint_down_is_answered_locally(chain: PublicChain, hosted_proxy: FaultProxy) -> None:
    hosted_proxy.take_down()
    end = await chain.answer()
    assert end.kind == "local"
    assert chain.notices[0].message == "The hosted model is unavailable; answered by the private local model."
    assert [a.error for a in chain.attempts] == ["ModelUnavailable"] * 3


ONE_SHOT = [
    ("http_500", {}),
    ("rate_limit", {"retry_after": 1}),
    ("reset", {}),
    ("hang", {}),
    ("bad_sse", {}),
]


@pytest.mark.parametrize(("fault", "params"), ONE_SHOT, ids=[p[0] for p in ONE_SHOT])
async def test_a_one_off_fault_is_retried_on_the_hosted_model(
    chain: PublicChain, hosted_proxy: FaultProxy, fault: str, params: dict[str, float]
) -> None:
    hosted_proxy.set_fault(fault, times=1, **params)  # type: ignore[arg-type]
    end = await chain.answer()
    assert end.kind == "hosted" and end.text.strip()
    assert [a.outcome for a in chain.attempts] == ["retry", "ok"]
    assert chain.notices == []
    if fault == "rate_limit":
        assert chain.attempts[0].wait_s == 1.0


async def test_a_bad_key_is_not_retried_but_falls_back(chain: PublicChain, hosted_proxy: FaultProxy) -> None:
    hosted_proxy.set_fault("auth_401", times=1)
    end = await chain.answer()
    assert end.kind == "local"
    assert [a.outcome for a in chain.attempts] == ["not_retryable"]
    assert (
        chain.notices[0].message
        == "The hosted model refused our credentials; answered by the private local model."
    )


async def test_a_stream_cut_mid_way_ends_as_cut_off_with_the_partial_answer(
    chain: PublicChain, hosted_proxy: FaultProxy
) -> None:
    hosted_proxy.set_fault("cut", times=None, cut_after_events=4)
    model = chain.build()
    seen: list[str] = []
    with pytest.raises(StreamCutOff) as caught:
        async with asyncio.timeout(HANG_GUARD_S):
            async for event in model.stream(ask("Count from 1 to 100, separated by commas.", 64)):  # type: ignore[attr-defined]
                if isinstance(event, TextDelta):
                    seen.append(event.text)
    assert seen and caught.value.partial == "".join(seen)
    assert chain.notices == [] and len(hosted_proxy.chat_exchanges()) == 1  # not replayed anywhere
    assert caught.value.user_message == "The answer was cut off because the connection to the model broke."


async def test_the_breaker_opens_fails_fast_then_closes_after_the_cool_down(
    chain: PublicChain, hosted_proxy: FaultProxy
) -> None:
    hosted_proxy.set_fault("http_500", times=None)
    assert (await chain.answer()).kind == "local"
    assert chain.breaker.state == "open"
    calls = len(hosted_proxy.chat_exchanges())
    assert calls == 3

    assert (await chain.answer()).kind == "local"  # fails fast: nothing reached the endpoint
    assert len(hosted_proxy.chat_exchanges()) == calls
    assert chain.attempts[-1].error == "CircuitOpen"

    hosted_proxy.set_fault("http_500", times=0)  # the endpoint recovers
    chain.clock.now += 30.0
    assert chain.breaker.state == "half_open"
    end = await chain.answer()
    assert end.kind == "hosted"
    assert chain.breaker.state == "closed"
    assert chain.breaker.snapshot().opened_total == 1


async def test_a_hung_request_does_not_block_other_users(
    chain: PublicChain, hosted_proxy: FaultProxy
) -> None:
    hosted_proxy.set_fault("hang", times=1)
    stuck = asyncio.create_task(chain.answer())
    for _ in range(500):
        if hosted_proxy.chat_exchanges():
            break
        await asyncio.sleep(0.01)
    other = await chain.answer(ask("Say hi."))
    assert other.kind == "hosted" and not stuck.done()
    assert (await stuck).kind == "hosted"  # timed out, retried, answered


async def test_errors_carry_a_user_message_when_nothing_can_answer(
    hosted_settings: HostedModelSettings,
) -> None:
    hosted = HostedModel(
        SERVER_MODEL_ALIAS, hosted_settings.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})
    )
    model = RetryingModel(hosted, RetryPolicy(max_attempts=2, base_backoff_s=0.01, max_backoff_s=0.01))
    with pytest.raises(ModelError) as caught:
        async with asyncio.timeout(HANG_GUARD_S):
            await collect(model.stream(ask()))
    assert caught.value.user_message == "The model is not reachable right now."
    await hosted.aclose()
