"""Prometheus metrics and OpenTelemetry traces of a chat turn.

Metrics live on a dedicated registry (never the process-global one), so tests and several app
instances do not collide. Traces go to an OTLP endpoint only when one is configured (a setting or
the standard OTEL_EXPORTER_OTLP_ENDPOINT variable); unconfigured, nothing is exported and no
connection is ever attempted. Labels carry routes, tiers and model names only: never user text.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Tracer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from assistant.governance.settings import TelemetrySettings

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30)
GATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2)


class Telemetry:
    """All Confidante metrics, plus an optional tracer."""

    def __init__(
        self, settings: TelemetrySettings | None = None, *, span_exporter: SpanExporter | None = None
    ):
        self.registry = CollectorRegistry(auto_describe=True)
        self._define_metrics()
        self.tracer_provider = _tracer_provider(settings or TelemetrySettings(), span_exporter)
        self.tracer: Tracer | None = (
            self.tracer_provider.get_tracer("confidante") if self.tracer_provider else None
        )

    def _define_metrics(self) -> None:
        r = self.registry
        self.latency = Histogram(
            "confidante_model_latency_seconds",
            "Model call latency",
            ["route", "tier"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "confidante_time_to_first_token_seconds", "Time to first token", ["route", "tier"],
            buckets=TTFT_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "confidante_tokens", "Tokens by model and direction", ["model", "direction"], registry=r
        )
        self.cost = Counter("confidante_cost_usd", "Estimated cost in USD", ["model"], registry=r)
        self.calls = Counter(
            "confidante_model_calls", "Model calls by outcome", ["route", "tier", "outcome"], registry=r
        )
        self.errors = Counter("confidante_errors", "Model call errors", ["route", "kind"], registry=r)
        self.fallbacks = Counter(
            "confidante_fallbacks", "Fallbacks taken", ["from_route", "to_route"], registry=r
        )
        self.escalations = Counter("confidante_escalations", "Escalations opened", ["reason"], registry=r)
        self.schema = Counter(
            "confidante_schema_validations", "Structured-output validations", ["result"], registry=r
        )
        self.cache = Counter("confidante_cache_lookups", "Response cache lookups", ["result"], registry=r)
        self.gate_latency = Histogram(
            "confidante_gate_latency_seconds", "Sensitivity gate latency", buckets=GATE_BUCKETS, registry=r
        )
        self.budget_refusals = Counter("confidante_budget_refusals", "Turns refused over budget", registry=r)

    # --- what the pipeline calls ----------------------------------------------------------------

    def observe_model_call(
        self,
        *,
        route: str,
        tier: str,
        model: str,
        latency_s: float,
        ttft_s: float | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float = 0.0,
        outcome: str = "ok",
    ) -> None:
        self.latency.labels(route, tier).observe(latency_s)
        if ttft_s is not None:
            self.ttft.labels(route, tier).observe(ttft_s)
        self.tokens.labels(model, "prompt").inc(prompt_tokens)
        self.tokens.labels(model, "completion").inc(completion_tokens)
        self.cost.labels(model).inc(cost_usd)
        self.calls.labels(route, tier, outcome).inc()

    def observe_error(self, *, route: str, kind: str) -> None:
        self.errors.labels(route, kind).inc()

    def observe_fallback(self, *, from_route: str, to_route: str) -> None:
        self.fallbacks.labels(from_route, to_route).inc()

    def observe_escalation(self, *, reason: str) -> None:
        self.escalations.labels(reason).inc()

    def observe_schema_validation(self, *, ok: bool) -> None:
        self.schema.labels("success" if ok else "failure").inc()

    def observe_cache(self, *, hit: bool) -> None:
        self.cache.labels("hit" if hit else "miss").inc()

    def observe_gate(self, *, latency_s: float) -> None:
        self.gate_latency.observe(latency_s)

    def observe_budget_refusal(self) -> None:
        self.budget_refusals.inc()

    # --- exposition ------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def metrics_endpoint(self, _request: Request) -> Response:
        """A Starlette/FastAPI endpoint serving the Prometheus text format."""
        return Response(self.exposition(), media_type=CONTENT_TYPE_LATEST)

    # --- traces ----------------------------------------------------------------------------------

    @contextmanager
    def turn_span(self, name: str = "chat turn", **attributes: Any) -> Iterator[Span | None]:
        """A span around one turn (None when tracing is off); nest `model_span` inside."""
        if self.tracer is None:
            yield None
            return
        with self.tracer.start_as_current_span(name, attributes=_clean(attributes)) as span:
            yield span

    @contextmanager
    def model_span(self, *, model: str, system: str, operation: str = "chat") -> Iterator[Span | None]:
        """A GenAI semantic-convention span for one model call; set usage with `record_usage`."""
        if self.tracer is None:
            yield None
            return
        attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.system": system,
            "gen_ai.request.model": model,
        }
        with self.tracer.start_as_current_span(f"{operation} {model}", attributes=attributes) as span:
            yield span

    @staticmethod
    def record_usage(
        span: Span | None, *, input_tokens: int, output_tokens: int, response_model: str | None = None
    ):
        if span is None:
            return
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        if response_model:
            span.set_attribute("gen_ai.response.model", response_model)

    def shutdown(self) -> None:
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if value is not None}


def otlp_endpoint(settings: TelemetrySettings) -> str | None:
    return settings.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def _tracer_provider(settings: TelemetrySettings, exporter: SpanExporter | None) -> TracerProvider | None:
    """Our own provider (never the global one); None when no exporter is configured."""
    if exporter is None:
        endpoint = otlp_endpoint(settings)
        if endpoint is None:
            return None
        exporter = _otlp_exporter(endpoint)
        if exporter is None:
            return None
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _otlp_exporter(endpoint: str) -> SpanExporter | None:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning(
            "tracing is configured (%s) but opentelemetry-exporter-otlp-proto-http is not installed; "
            "no traces will be exported",
            endpoint,
        )
        return None
    base = endpoint.rstrip("/")
    return OTLPSpanExporter(endpoint=base if base.endswith("/v1/traces") else f"{base}/v1/traces")
