"""Turning finished turns into governance records: the audit trail, metrics, escalations, budgets.

One routing-decision record per turn and one model-call record per model call, with sha256 of
exactly what was sent and received. Raw text is handed over with its tier; the audit trail keeps
or drops it by the retention policy (regulated raw text is not stored unless configured). Nothing
here may raise into a user's turn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assistant.experiments.recorder import audit_note, prompt_template_of
from assistant.identity import Principal
from assistant.pipeline import PROMPT_TEMPLATE_VERSION, call_cost
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from routing.routed import CallRecord

if TYPE_CHECKING:
    from assistant.governance.component import Governance

log = logging.getLogger(__name__)


def time_note(result: TurnResult) -> str:
    """Where the turn's time went, for its routing-decision record: ms per phase from the user's
    message (our lock, the gate, retrieval, model attempts), and whether the fallback was cut."""
    timing = result.timing
    if timing is None:
        return ""
    phases = " ".join(f"{phase} {ms:.0f}" for phase, ms in timing.ms_by_phase().items())
    cut = ", cut short at the answer deadline" if timing.cut_short else ""
    return f"; time ms: total {timing.total_ms:.0f}, {phases}{cut}"


class GovernanceRecorder:
    """A `TurnObserver` writing the audit trail and the Prometheus metrics."""

    def __init__(self, governance: Governance, settings: Settings) -> None:
        self._governance = governance
        self._settings = settings

    def on_turn(
        self, conversation: Conversation, user_text: str, result: TurnResult, calls: Sequence[CallRecord]
    ) -> None:
        from assistant.governance.audit import AuditEvent

        audit = self._governance.audit
        tier = result.receipt.tier.value
        common: dict[str, Any] = {
            "user_id": conversation.principal.user_id,
            "thread_id": conversation.id,
            "tier": tier,
            "policy_version": result.receipt.policy_version or None,
            "prompt_template_version": prompt_template_of(result, PROMPT_TEMPLATE_VERSION),
            "document_ids": tuple(dict.fromkeys(s.doc_id for s in result.sources)),
        }
        # One transaction for the whole turn (the decision and every call): one commit, not one each.
        events = [
            AuditEvent(
                kind="routing_decision",
                outcome=result.outcome,
                route=result.receipt.route.value,
                detail=f"rule {result.receipt.rule}{audit_note(conversation, result)}{time_note(result)}"[
                    :500
                ],
                **common,
            )
        ]
        for call in calls:
            cost = call_cost(
                self._settings,
                kind=call.kind,
                model=call.model,
                prompt_tokens=call.usage_prompt,
                completion_tokens=call.usage_completion,
            )
            events.append(
                AuditEvent(
                    kind="model_call",
                    outcome=call.outcome,
                    route=call.kind,
                    model=call.model,
                    prompt_tokens=call.usage_prompt,
                    completion_tokens=call.usage_completion,
                    latency_ms=call.latency_ms or None,
                    ttft_ms=call.ttft_ms,
                    cost_usd=cost,
                    detail=(call.error or None) and call.error[:500],
                    request_sha256=call.request_sha256,
                    response_sha256=call.response_sha256,
                    request_text=call.request_text,
                    response_text=call.response_text,
                    **common,
                )
            )
            self._observe(call, tier, cost)
        audit.record_many(events)
        self._observe_turn(result)
        self._trace(conversation, result, calls)

    def _trace(self, conversation: Conversation, result: TurnResult, calls: Sequence[CallRecord]) -> None:
        """An OpenTelemetry trace of the turn (GenAI semantic conventions), when an exporter is set.

        Written after the turn with explicit timestamps, so tracing never sits in the stream path.
        """
        tracer = self._governance.telemetry.tracer
        if tracer is None:
            return
        from opentelemetry import trace

        end = time.time_ns()
        start = end - int(result.latency_ms * 1_000_000)
        turn = tracer.start_span(
            "chat turn",
            start_time=start,
            attributes={
                "confidante.tier": result.receipt.tier.value,
                "confidante.route": result.route,
                "confidante.outcome": result.outcome,
                "confidante.rule": result.receipt.rule,
                "confidante.thread_id": conversation.id,
            },
        )
        context = trace.set_span_in_context(turn)
        cursor = start
        for call in calls:
            call_ns = int(call.latency_ms * 1_000_000)
            span = tracer.start_span(
                f"chat {call.model}",
                context=context,
                start_time=cursor,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "llama.cpp" if call.kind == "local" else "openai",
                    "gen_ai.request.model": call.model,
                    "gen_ai.usage.input_tokens": call.usage_prompt,
                    "gen_ai.usage.output_tokens": call.usage_completion,
                    "confidante.outcome": call.outcome,
                },
            )
            cursor = min(end, cursor + call_ns)
            span.end(end_time=cursor)
        turn.end(end_time=end)

    def _observe(self, call: CallRecord, tier: str, cost: float) -> None:
        telemetry = self._governance.telemetry
        telemetry.observe_model_call(
            route=call.kind,
            tier=tier,
            model=call.model,
            latency_s=call.latency_ms / 1000,
            ttft_s=None if call.ttft_ms is None else call.ttft_ms / 1000,
            prompt_tokens=call.usage_prompt,
            completion_tokens=call.usage_completion,
            cost_usd=cost,
            outcome=call.outcome,
        )
        if call.outcome == "error":
            telemetry.observe_error(route=call.kind, kind=call.error.split("(")[0][:40] or "error")

    def _observe_turn(self, result: TurnResult) -> None:
        telemetry = self._governance.telemetry
        if result.outcome == "fallback":
            telemetry.observe_fallback(from_route="hosted", to_route=result.route)
        if result.escalation_id:
            telemetry.observe_escalation(reason=result.outcome)
        if result.outcome == "over_budget":
            telemetry.observe_budget_refusal()

    def on_upload_call(self, call: CallRecord, *, user_id: str, thread_id: str) -> None:
        """A summarization model call (uploads): audited, costed, metered and charged to the
        uploader's budget exactly like a chat call. Hashes and tags only in the trail."""
        from assistant.governance.audit import AuditEvent

        tier = call.tier.value if call.tier is not None else None
        cost = call_cost(
            self._settings,
            kind=call.kind,
            model=call.model,
            prompt_tokens=call.usage_prompt,
            completion_tokens=call.usage_completion,
        )
        self._governance.audit.record(
            AuditEvent(
                kind="model_call",
                outcome="ok" if call.outcome == "ok" else "error",
                user_id=user_id,
                thread_id=thread_id,
                tier=tier,
                route=call.kind,
                model=call.model,
                prompt_tokens=call.usage_prompt,
                completion_tokens=call.usage_completion,
                cost_usd=cost,
                latency_ms=call.latency_ms,
                prompt_template_version=f"upload-summary/{call.step}",
                detail=f"upload summary step {call.step}; {call.pseudonymized} values pseudonymized",
                request_sha256=call.request_sha256,
                response_sha256=call.response_sha256,
                schema_valid=call.schema_valid,
            )
        )
        self._observe(call, tier or "unknown", cost)
        if call.schema_valid is not None:
            self._governance.telemetry.observe_schema_validation(ok=call.schema_valid)
        if call.total_tokens or cost:
            self._governance.budgets.charge(Principal(user_id=user_id), call.total_tokens, cost)


class GovernanceEscalations:
    def __init__(self, governance: Governance) -> None:
        self._escalations = governance.escalations

    def open_escalation(self, *, thread_id: str, user_id: str, reason: str, detail: str) -> str:
        return self._escalations.open(thread_id, user_id, reason, detail).id  # type: ignore[arg-type]


class GovernanceBudgets:
    def __init__(self, governance: Governance) -> None:
        self._budgets = governance.budgets

    def allows(self, principal: Principal) -> str | None:
        status = self._budgets.check(principal)
        return None if status.allowed else status.message

    def charge(self, principal: Principal, *, tokens: int, cost_usd: float) -> None:
        self._budgets.charge(principal, tokens, cost_usd)
