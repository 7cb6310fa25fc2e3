"""Prometheus metrics on a dedicated registry, and OpenTelemetry spans with GenAI attribute names."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from assistant.governance.settings import TelemetrySettings
from assistant.governance.telemetry import Telemetry, otlp_endpoint


def sample(telemetry: Telemetry, name: str, labels: dict[str, str]) -> float | None:
    return telemetry.registry.get_sample_value(name, labels)


def test_model_calls_fill_latency_ttft_tokens_cost_and_outcomes():
    t = Telemetry()
    t.observe_model_call(route="hosted", tier="public", model="gpt-4o-mini", latency_s=0.8, ttft_s=0.2,
                         prompt_tokens=100, completion_tokens=40, cost_usd=0.0001, outcome="ok")  # fmt: skip
    t.observe_model_call(
        route="hosted", tier="public", model="gpt-4o-mini", latency_s=3.0, outcome="fallback"
    )
    labels = {"route": "hosted", "tier": "public"}
    assert sample(t, "confidante_model_latency_seconds_count", labels) == 2
    assert sample(t, "confidante_model_latency_seconds_bucket", {**labels, "le": "1.0"}) == 1
    assert sample(t, "confidante_time_to_first_token_seconds_count", labels) == 1
    assert sample(t, "confidante_tokens_total", {"model": "gpt-4o-mini", "direction": "prompt"}) == 100
    assert sample(t, "confidante_cost_usd_total", {"model": "gpt-4o-mini"}) == 0.0001
    assert sample(t, "confidante_model_calls_total", {**labels, "outcome": "fallback"}) == 1


def test_other_signals():
    t = Telemetry()
    t.observe_error(route="hosted", kind="timeout")
    t.observe_fallback(from_route="hosted", to_route="local")
    t.observe_escalation(reason="low_confidence")
    t.observe_schema_validation(ok=True)
    t.observe_schema_validation(ok=False)
    t.observe_schema_validation(ok=True)
    t.observe_cache(hit=True)
    t.observe_gate(latency_s=0.02)
    t.observe_budget_refusal()
    assert sample(t, "confidante_errors_total", {"route": "hosted", "kind": "timeout"}) == 1
    assert sample(t, "confidante_fallbacks_total", {"from_route": "hosted", "to_route": "local"}) == 1
    assert sample(t, "confidante_escalations_total", {"reason": "low_confidence"}) == 1
    assert sample(t, "confidante_schema_validations_total", {"result": "success"}) == 2
    assert sample(t, "confidante_schema_validations_total", {"result": "failure"}) == 1
    assert sample(t, "confidante_cache_lookups_total", {"result": "hit"}) == 1
    assert sample(t, "confidante_gate_latency_seconds_count", {}) == 1
    assert sample(t, "confidante_budget_refusals_total", {}) == 1


def test_registries_are_separate_from_each_other_and_the_global_one():
    a, b = Telemetry(), Telemetry()
    a.observe_escalation(reason="user_request")
    assert sample(b, "confidante_escalations_total", {"reason": "user_request"}) is None
    assert REGISTRY.get_sample_value("confidante_escalations_total", {"reason": "user_request"}) is None


def test_metrics_route_serves_prometheus_text():
    t = Telemetry()
    t.observe_gate(latency_s=0.01)
    client = TestClient(Starlette(routes=[Route("/metrics", t.metrics_endpoint)]))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE confidante_gate_latency_seconds histogram" in response.text
    assert "confidante_gate_latency_seconds_count 1.0" in response.text


def test_no_tracing_without_an_exporter(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    t = Telemetry()
    assert t.tracer is None and otlp_endpoint(TelemetrySettings()) is None
    with t.turn_span(tier="public") as span, t.model_span(model="m", system="openai") as inner:
        assert span is None and inner is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert otlp_endpoint(TelemetrySettings()) == "http://127.0.0.1:4318"


def test_turn_and_model_spans_use_genai_attribute_names():
    exporter = InMemorySpanExporter()
    t = Telemetry(span_exporter=exporter)
    with t.turn_span("chat turn", **{"confidante.tier": "internal", "confidante.route": "hosted"}):
        with t.model_span(model="gpt-4o-mini", system="openai") as span:
            t.record_usage(span, input_tokens=120, output_tokens=30, response_model="gpt-4o-mini-2024")
    t.shutdown()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    call = spans["chat gpt-4o-mini"]
    assert call.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert call.attributes["gen_ai.operation.name"] == "chat"
    assert call.attributes["gen_ai.usage.input_tokens"] == 120
    assert call.attributes["gen_ai.usage.output_tokens"] == 30
    assert call.parent.span_id == spans["chat turn"].context.span_id
    assert spans["chat turn"].attributes["confidante.tier"] == "internal"
