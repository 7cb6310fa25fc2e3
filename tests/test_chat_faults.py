"""Faults injected during a chat, end to end: real services (gate, governance, audit), the
hosted endpoint behind the fault-injecting proxy, the local llama.cpp model as the fallback.

For each fault the user gets an answer or a clear message, the audit trail records what
happened, and nothing regulated reaches the proxy; a hung or unreachable endpoint is tried once
per turn, not once per model on it. The circuit breaker opens under
repeated failures and closes again after its cool-down.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.identity import Principal
from assistant.services import Services, build_hosted_models, build_services
from assistant.settings import Settings
from assistant.turns import Conversation, Notice, TurnResult
from models.local import LocalModel
from models.settings import HostedModelSettings
from routing.breaker import BreakerModel
from tests.support.proxy import FAULT_KINDS, FaultProxy

pytestmark = pytest.mark.slow

SSN = "078-05-1120"
FAULTS = [kind for kind in FAULT_KINDS if kind != "script"]


CHEAP = "cheap-model"  # a second model name on the same endpoint (faults keep it off the server)


def make_services(
    tmp_path: Path,
    local_llama_model: LocalModel,
    hosted_settings: HostedModelSettings,
    gate_privacy,  # type: ignore[no-untyped-def]
    breaker_threshold: int = 3,
) -> Services:
    from assistant.pipeline import ModelSet

    settings = Settings(data_dir=tmp_path / "data")
    settings.models.hosted = hosted_settings
    settings.models.local.max_tokens = 16
    settings.chat.answer_reserve_tokens = 16
    settings.reliability.retry_budget_s = 4.0
    settings.reliability.breaker_failure_threshold = breaker_threshold
    settings.reliability.breaker_cooldown_s = 1.0
    settings.reliability.cache_enabled = False
    hosted = build_hosted_models(settings, local_llama_model.count_tokens)
    return build_services(
        settings, models=ModelSet(local=local_llama_model, hosted=hosted), privacy=gate_privacy
    )


@pytest.fixture
def services(
    tmp_path: Path, local_llama_model: LocalModel, hosted_settings: HostedModelSettings, gate_privacy
) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    built = make_services(tmp_path, local_llama_model, hosted_settings, gate_privacy)
    yield built
    assert built.governance is not None
    built.governance.close()


@pytest.fixture
def two_model_services(
    tmp_path: Path, local_llama_model: LocalModel, hosted_settings: HostedModelSettings, gate_privacy
) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    """The default chain of the product: strong then cheap on one endpoint, then local."""
    models = hosted_settings.models.model_copy(update={"cheap": CHEAP})
    two_models = hosted_settings.model_copy(update={"models": models})
    # A breaker that stays closed for one turn's retries, so what is seen is the skipping rule.
    built = make_services(tmp_path, local_llama_model, two_models, gate_privacy, breaker_threshold=10)
    assert [m.name for m in built.models.hosted] == [hosted_settings.models.strong, CHEAP]
    yield built
    assert built.governance is not None
    built.governance.close()


async def chat(
    services: Services, text: str, conversation: Conversation | None = None
) -> tuple[TurnResult, list[Notice]]:
    conversation = conversation or Conversation(id=f"t-{uuid.uuid4().hex}", principal=Principal(user_id="u1"))
    events = [event async for event in services.pipeline.run(conversation, text)]
    result = events[-1]
    assert isinstance(result, TurnResult)
    return result, [e for e in events if isinstance(e, Notice)]


def audit_outcomes(services: Services) -> list[tuple[str, str, str | None]]:
    assert services.governance is not None
    return [(r.kind, r.outcome, r.route) for r in services.governance.audit.records()]


@pytest.mark.parametrize("fault", FAULTS)
async def test_each_fault_ends_in_an_answer_or_a_clear_message(
    services: Services, hosted_proxy: FaultProxy, fault: str
) -> None:
    hosted_proxy.set_fault(fault, times=None, retry_after=1.0)  # type: ignore[arg-type]
    result, notices = await chat(services, "Name three primary colours.")
    assert result.answer.strip(), fault
    assert "Traceback" not in result.answer
    records = audit_outcomes(services)
    if fault == "cut":
        # Text had reached the user: the partial answer is kept and marked, never replayed elsewhere.
        assert result.finish_reason == "cut_off" and any(n.kind == "cut_off" for n in notices)
        assert ("model_call", "error", "hosted") in records
    else:
        assert result.route == "local" and result.outcome == "fallback"
        assert any(n.kind == "fallback" for n in notices)
        assert ("model_call", "error", "hosted") in records
        assert ("model_call", "ok", "local") in records
        assert ("routing_decision", "fallback", "hosted") in records
    assert services.governance is not None and services.governance.audit.verify().ok


async def test_regulated_turns_never_touch_the_endpoint_under_faults(
    services: Services, hosted_proxy: FaultProxy
) -> None:
    for fault in FAULTS:
        hosted_proxy.set_fault(fault, times=None)  # type: ignore[arg-type]
        result, _ = await chat(services, f"My SSN is {SSN}, is it on file?")
        assert result.route == "local"
    assert hosted_proxy.requests == []


async def test_hosted_down_public_answered_locally_with_notice(
    services: Services, hosted_proxy: FaultProxy
) -> None:
    hosted_proxy.take_down()
    result, notices = await chat(services, "What is the capital of France?")
    assert result.route == "local"
    assert any("unavailable" in n.text for n in notices)


async def test_breaker_opens_under_repeated_failures_and_closes_after_cooldown(
    services: Services, hosted_proxy: FaultProxy
) -> None:
    breaker = next(
        m.inner.breaker  # type: ignore[attr-defined]
        for m in services.models.hosted
        if isinstance(getattr(m, "inner", None), BreakerModel)
    )
    # The breaker's own clock, moved by hand: on a busy machine a local fallback answer can
    # outlast a real 1 s cool-down, and the breaker would half-open between two turns.
    now = [0.0]
    breaker._clock = lambda: now[0]
    hosted_proxy.set_fault("http_500", times=None)
    for _ in range(3):
        await chat(services, "Name a colour.")
    assert breaker.state == "open"
    calls_when_open = len(hosted_proxy.chat_exchanges())
    result, _ = await chat(services, "Name a colour.")
    assert result.route == "local"
    assert len(hosted_proxy.chat_exchanges()) == calls_when_open  # open: failed fast, no request
    hosted_proxy.clear()
    now[0] += breaker.cooldown_s + 0.1  # the cool-down passes
    result, _ = await chat(services, "Name a fruit.")
    assert result.route == "hosted"
    assert breaker.state == "closed"


def models_asked(proxy: FaultProxy) -> list[str]:
    return [json.loads(exchange.body)["model"] for exchange in proxy.chat_exchanges()]


@pytest.mark.parametrize("fault", ["hang", "reset"])
async def test_a_hung_or_reset_endpoint_is_not_asked_again_for_the_cheap_model(
    two_model_services: Services, hosted_proxy: FaultProxy, fault: str
) -> None:
    """Strong and cheap share the endpoint: once it hung (or reset the connection), the cheap
    model is skipped and the local model answers, within one hosted deadline."""
    hosted_proxy.set_fault(fault, times=None)  # type: ignore[arg-type]
    result, notices = await chat(two_model_services, "Name three primary colours.")
    strong = two_model_services.models.hosted[0].name
    asked = models_asked(hosted_proxy)
    assert asked and set(asked) == {strong}, asked  # the cheap model never reached the endpoint
    assert result.route == "local" and result.outcome == "fallback" and result.answer.strip()
    assert any(n.kind == "fallback" for n in notices)


async def test_an_http_error_still_lets_the_cheap_model_try(
    two_model_services: Services, hosted_proxy: FaultProxy
) -> None:
    """A 500 is about one model, not the endpoint: the cheap model is still asked."""
    hosted_proxy.set_fault("http_500", times=None)
    result, _ = await chat(two_model_services, "Name three primary colours.")
    assert CHEAP in models_asked(hosted_proxy)
    assert result.route == "local" and result.outcome == "fallback"
