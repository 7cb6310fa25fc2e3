"""No fallback, retry or error path carries a regulated request to the hosted endpoint.

A canary value in regulated turns must never appear in any request body the proxy received,
while public turns demonstrably do reach it (so the recording is not vacuous).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel, ConfigDict

from models.base import ChatMessage, ChatRequest, ModelBusy, ModelError, collect
from models.fakes import QueueModel
from models.hosted import HostedModel
from models.local import LocalModel
from models.settings import HostedModelSettings
from routing.breaker import BreakerModel, CircuitBreaker
from routing.fallback import FallbackModel, PrivacyViolation, chain_for
from routing.retry import RetryingModel, RetryPolicy
from routing.structured import StructuredOutputError, ask_structured
from routing.tiers import Route, Tier
from tests.support.proxy import FAULT_KINDS, FaultProxy
from tests.support.servers import SERVER_MODEL_ALIAS

pytestmark = pytest.mark.slow

CANARY = "078-05-1120 canary-5c1e"
PUBLIC_MARKER = "public-marker-91aa"


def ask(text: str, max_tokens: int = 8) -> ChatRequest:
    return ChatRequest.of([ChatMessage(role="user", content=text)], max_tokens=max_tokens, temperature=0.0)


@pytest.fixture
async def reliable_hosted(hosted_settings: HostedModelSettings) -> AsyncIterator[RetryingModel]:
    hosted = HostedModel(SERVER_MODEL_ALIAS, hosted_settings)
    breaker = CircuitBreaker(hosted.endpoint, threshold=50)
    yield RetryingModel(BreakerModel(hosted, breaker), RetryPolicy(max_attempts=2, base_backoff_s=0.01))
    await hosted.aclose()


async def test_regulated_turns_never_reach_the_proxy_under_any_fault(
    reliable_hosted: RetryingModel, hosted_proxy: FaultProxy, local_llama_model: LocalModel
) -> None:
    regulated = ask(f"My SSN is {CANARY}. Say ok.", max_tokens=2)
    # The public side only has to reach the proxy; a scripted local fallback keeps the test fast.
    public_fallback = QueueModel(default="local answer", name="scripted-local", kind="local")
    busy_local = QueueModel(default=ModelBusy(3), name="busy-local", kind="local")
    for fault in [*FAULT_KINDS, None]:
        if fault is None:
            hosted_proxy.set_fault("http_500", times=0)
        else:
            hosted_proxy.set_fault(fault, times=None, retry_after=0.01, cut_after_events=3)
        # The routing bug the guard exists for: a regulated turn handed the public chain.
        with pytest.raises(PrivacyViolation):
            chain_for(Tier.REGULATED, reliable_hosted, local_llama_model)
        with pytest.raises(PrivacyViolation):
            chain_for(Route.LOCAL, FallbackModel(local_llama_model, reliable_hosted))
        # The right chain: a failing local model falls back to another local one, never to hosted.
        chain = chain_for(Tier.REGULATED, RetryingModel(busy_local), local_llama_model)
        async with asyncio.timeout(30):
            end = await collect(chain.stream(regulated))
        assert end.kind == "local"
        if fault == "hang":
            continue  # the public side of a hang is covered in test_faults; it only costs time here
        # Meanwhile public turns do go out (and meet the fault).
        public = chain_for(Tier.PUBLIC, reliable_hosted, public_fallback)
        async with asyncio.timeout(30):
            try:
                await collect(public.stream(ask(f"Say {PUBLIC_MARKER}.")))
            except ModelError:
                pass  # a cut stream ends as an error: fine, it is not the regulated one
    bodies = hosted_proxy.requests
    assert any(PUBLIC_MARKER in body for body in bodies)
    assert not any(CANARY in body for body in bodies)
    assert not any("078-05-1120" in body for body in bodies)


class Verdict(BaseModel):
    model_config = ConfigDict(extra="allow")


async def test_structured_asks_for_a_regulated_turn_stay_local(
    hosted_proxy: FaultProxy, local_llama_model: LocalModel
) -> None:
    chain = chain_for(Tier.REGULATED, local_llama_model)
    request = ask(f"Return a JSON object about the number {CANARY}.", max_tokens=48)
    try:
        result = await ask_structured(chain, request, Verdict, max_reasks=1)
        assert result.attempts
    except StructuredOutputError as exc:  # the 135M model may fail the schema: still local
        assert len(exc.attempts) == 2
    assert not any(CANARY in body for body in hosted_proxy.requests)
