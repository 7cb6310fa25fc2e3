"""Tool activity in the audit trail, the metrics and the dashboard figures.

`ToolRecorder` is the loop's observer: one `tool_call` audit record per call (tool name, sha256 of
the canonical arguments and of the result, outcome, latency, result tier) and one `tool_loop`
record per loop (its termination), both in the hash chain; and Prometheus counters on the app's
registry. `tool_figures` reads the same records back for the admin dashboard.

It must never write argument or result text anywhere: only hashes and value-free reasons.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from assistant.governance.audit import AuditEvent
from assistant.tools.base import ToolOutcome
from assistant.tools.records import LoopReport, ToolCallRecord
from knowledge.access import Principal
from routing.routed import Outcome

log = logging.getLogger(__name__)

# The audit trail's outcome vocabulary is the model calls'; the precise tool outcome is in `detail`.
_AUDIT_OUTCOME: dict[ToolOutcome, Outcome] = {
    "ok": "ok", "error": "error", "timeout": "error", "invalid_arguments": "error", "not_found": "error",
    "refused_permission": "blocked", "refused_privacy": "blocked", "declined_by_user": "cancelled",
}  # fmt: skip


class AuditSink(Protocol):
    def record(self, event: AuditEvent) -> object: ...


def call_event(record: ToolCallRecord, *, principal: Principal, thread_id: str | None) -> AuditEvent:
    tier = record.result_tier or record.argument_tier
    reason = f"; {record.detail}" if record.detail else ""
    return AuditEvent(
        kind="tool_call",
        outcome=_AUDIT_OUTCOME.get(record.outcome, "error"),
        user_id=principal.user_id,
        thread_id=thread_id,
        tier=tier.value if tier else None,
        route=record.destination,
        model=f"tool:{record.name}"[:200],
        latency_ms=max(0.0, record.latency_ms),
        detail=f"outcome={record.outcome}; attempts={record.attempts}{reason}"[:500],
        request_sha256=record.arguments_sha256,
        response_sha256=record.result_sha256,
    )


def loop_event(report: LoopReport, *, principal: Principal, thread_id: str | None) -> AuditEvent:
    return AuditEvent(
        kind="tool_loop",
        outcome="ok" if report.termination == "answered" else "error",
        user_id=principal.user_id,
        thread_id=thread_id,
        tier=report.result_tier.value if report.result_tier else None,
        detail=f"termination={report.termination}; steps={report.steps}; calls={len(report.records)}; "
        f"tokens={report.tokens}",
    )


class ToolRecorder:
    """Audit records and metrics for every tool call and loop; never raises into a turn."""

    def __init__(self, audit: AuditSink | None = None, registry: Any = None) -> None:
        self._audit = audit
        self._calls: Any = None
        self._loops: Any = None
        if registry is not None:
            from prometheus_client import Counter as PromCounter

            self._calls = PromCounter(
                "confidante_tool_calls", "Tool calls by outcome", ["tool", "outcome"], registry=registry
            )
            self._loops = PromCounter(
                "confidante_tool_loops", "Tool loops by termination", ["reason"], registry=registry
            )

    def on_tool_call(self, record: ToolCallRecord, *, principal: Principal, thread_id: str | None) -> None:
        if self._calls is not None:
            self._calls.labels(record.name, record.outcome).inc()
        if self._audit is not None:
            self._audit.record(call_event(record, principal=principal, thread_id=thread_id))

    def on_tool_loop(self, report: LoopReport, *, principal: Principal, thread_id: str | None) -> None:
        if not report.records and report.termination == "answered":
            return  # the model answered without a tool: nothing happened worth a record
        if self._loops is not None:
            self._loops.labels(report.termination).inc()
        if self._audit is not None:
            self._audit.record(loop_event(report, principal=principal, thread_id=thread_id))


class ToolFigures(BaseModel):
    """The dashboard's tool panel."""

    model_config = ConfigDict(frozen=True)

    calls: int = 0
    failures: int = 0
    validation_errors: int = 0
    refusals: int = 0
    terminations: dict[str, int] = {}


class _Row(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def detail(self) -> str | None: ...


def _field(detail: str | None, name: str) -> str:
    for part in (detail or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def tool_figures(rows: Iterable[_Row]) -> ToolFigures:
    """Counts from `tool_call` and `tool_loop` audit rows."""
    outcomes: Counter[str] = Counter()
    terminations: Counter[str] = Counter()
    for row in rows:
        if row.kind == "tool_call":
            outcomes[_field(row.detail, "outcome")] += 1
        elif row.kind == "tool_loop":
            terminations[_field(row.detail, "termination")] += 1
    return ToolFigures(
        calls=sum(outcomes.values()),
        failures=outcomes["error"] + outcomes["timeout"],
        validation_errors=outcomes["invalid_arguments"],
        refusals=outcomes["refused_permission"] + outcomes["refused_privacy"] + outcomes["not_found"],
        terminations=dict(terminations),
    )
