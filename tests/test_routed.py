"""The routed model path: which models a route may use, and the call record (taint: test_taint.py)."""

from __future__ import annotations

import pytest

from models.base import ChatRequest, StreamEnd, Usage
from models.fakes import scripted
from routing.fallback import LocalOnlyModel
from routing.routed import ModelSet, call_record
from routing.tiers import Route, Tier

LOCAL = scripted("local", name="local-fake", kind="local")
STRONG = scripted("strong", name="strong", kind="hosted")
CHEAP = scripted("cheap", name="cheap", kind="hosted")


@pytest.mark.parametrize("route", [Route.LOCAL, Tier.REGULATED, "unknown-route"])
def test_local_only_routes_get_the_guarded_local_model_alone(route: Route | Tier | str) -> None:
    [only] = ModelSet(local=LOCAL, hosted=[STRONG, CHEAP]).chain(route)  # type: ignore[arg-type]
    assert isinstance(only.model, LocalOnlyModel) and only.model.kind == "local" and not only.pseudonymize


def test_hosted_routes_try_hosted_models_in_task_order_then_local() -> None:
    models = ModelSet(local=LOCAL, hosted=[STRONG, CHEAP])
    synthesis = models.chain(Route.HOSTED_PSEUDONYMIZED, "synthesis")
    extraction = models.chain(Route.HOSTED, "extraction")
    assert [c.model.name for c in synthesis] == ["strong", "cheap", "local-fake"]
    assert [c.pseudonymize for c in synthesis] == [True, True, False]
    assert [c.model.name for c in extraction] == ["cheap", "strong", "local-fake"]
    assert not any(c.pseudonymize for c in extraction)


def test_without_a_hosted_model_every_route_is_local() -> None:
    assert [c.model.kind for c in ModelSet(local=LOCAL).chain(Route.HOSTED)] == ["local"]


def test_a_call_record_carries_usage_from_the_stream_end_or_given() -> None:
    request = ChatRequest.of([])
    end = StreamEnd(
        model="m", kind="hosted", usage=Usage(prompt_tokens=7, completion_tokens=3),
        finish_reason="stop", latency_ms=12.0,
    )  # fmt: skip
    record = call_record(STRONG, request, "answer", end, "ok", step="reduce", tier=Tier.INTERNAL)
    assert (record.usage_prompt, record.usage_completion, record.total_tokens) == (7, 3, 10)
    assert record.step == "reduce" and record.tier is Tier.INTERNAL and record.latency_ms == 12.0
    summed = call_record(STRONG, request, "", None, "ok", usage=Usage(prompt_tokens=5, completion_tokens=1))
    assert summed.total_tokens == 6
