"""The figures behind the capability map: per capability, what the audit trail says happened.

Each audited record is attributed to one capability by what it is, never by its content:
API requests → API; tool calls and loops → tools; upload-summary prompts → summaries; model
calls and turns that cite documents → document Q&A; other turns and model calls → chat. A chat
turn is its `routing_decision` record (one per turn; nothing writes a record of kind "turn").
Reads audit rows only (no raw text); counts, costs, latencies and the models that answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.governance.dashboard_data import percentile
from assistant.governance.tables import AuditRow, as_utc

CAPABILITIES = ("chat", "document Q&A", "summaries", "tools", "API")
_TURN_KINDS = ("routing_decision", "turn")


@dataclass
class CapabilityFigures:
    name: str
    turns: int = 0
    model_calls: int = 0
    cost_usd: float = 0.0
    not_ok: int = 0  # refused, fell back, errored, cancelled, over budget…
    schema_checked: int = 0
    schema_valid: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    tiers: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)  # "model (route)"

    def cost_per_day(self, days: int) -> float:
        return self.cost_usd / max(1, days)

    @property
    def latency_p95_ms(self) -> float | None:
        return percentile(self.latencies_ms, 95)

    @property
    def events(self) -> int:
        return self.turns + self.model_calls

    @property
    def ok_rate(self) -> float | None:
        return 1 - self.not_ok / self.events if self.events else None


def capability_of(row: AuditRow) -> str | None:
    if row.kind == "api_request":
        return "API"
    if row.kind in ("tool_call", "tool_loop"):
        return "tools"
    if row.kind not in ("model_call", "routing_decision", "turn"):
        return None
    if (row.prompt_template_version or "").startswith("upload-summary"):
        return "summaries"
    return "document Q&A" if row.document_ids else "chat"


def capability_figures(
    engine: Engine, *, days: int = 14, now: datetime | None = None
) -> dict[str, CapabilityFigures]:
    """{capability: figures} over the last `days` days, every capability present (zeros if idle)."""
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    with Session(engine) as session:
        rows = session.exec(select(AuditRow).where(col(AuditRow.occurred_at) >= since)).all()
    figures = {name: CapabilityFigures(name) for name in CAPABILITIES}
    for row in rows:
        name = capability_of(row)
        if name is not None and as_utc(row.occurred_at) >= since:
            _add(figures[name], row)
    return figures


def _add(target: CapabilityFigures, row: AuditRow) -> None:
    if row.kind == "model_call":
        target.model_calls += 1
        target.models[f"{row.model or 'unknown'} ({row.route or 'unknown route'})"] += 1
        if row.latency_ms is not None:
            target.latencies_ms.append(row.latency_ms)
        if row.schema_valid is not None:
            target.schema_checked += 1
            target.schema_valid += int(row.schema_valid)
    else:
        target.turns += 1
    target.cost_usd += row.cost_usd
    target.not_ok += int(row.outcome != "ok")
    if row.tier and row.kind not in _TURN_KINDS:  # a turn's tier is already on its model calls
        target.tiers[row.tier] += 1


def top_models(models: Counter[str], limit: int = 4) -> Sequence[tuple[str, int]]:
    return models.most_common(limit)
