"""The figures behind the capability map: per capability, what the audit trail says happened.

Each audited record is attributed to one capability by what it is, never by its content:
API requests → API; tool calls and loops → tools; upload-summary prompts → summaries; model
calls and turns that cite documents → document Q&A; other turns and model calls → chat. A chat
turn is its `routing_decision` record (one per turn; nothing writes a record of kind "turn"). On
the tools card a turn is a turn that used tools (its one `tool_loop` record) and the calls are
tool calls (`tool_call` records), counted apart: a loop of three calls is one turn, three calls.
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
    tool_calls: int = 0
    cost_usd: float = 0.0
    not_ok: int = 0  # refused, fell back, errored, cancelled, over budget…
    judged: int = 0  # records whose outcome counts: not a turn's routing decision (always "ok")
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
    def use(self) -> str:
        """What the card counts, in words, e.g. "2 turns that used tools, 5 tool calls"."""
        if self.name == "tools":
            return f"{_count(self.turns, 'turn')} that used tools, {_count(self.tool_calls, 'tool call')}"
        return f"{_count(self.turns, 'turn')}, {_count(self.model_calls, 'model call')}"

    @property
    def tiers_label(self) -> str:
        """What `tiers` counts: model calls, or on the tools card tool calls (a loop's tier is its
        calls' highest, so it is not counted again)."""
        return "tool calls by tier" if self.name == "tools" else "by tier"

    @property
    def ok_rate(self) -> float | None:
        return 1 - self.not_ok / self.judged if self.judged else None


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


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
    elif row.kind == "tool_call":
        target.tool_calls += 1
    else:
        target.turns += 1
    target.cost_usd += row.cost_usd
    # A routing decision is written "ok" for every turn: counting it would lift the rate of what
    # was actually answered (its model calls) by a turn's worth of successes.
    if row.kind != "routing_decision":
        target.judged += 1
        target.not_ok += int(row.outcome != "ok")
    # A turn's tier is already on its model calls, a tool loop's on its tool calls.
    if row.tier and row.kind not in (*_TURN_KINDS, "tool_loop"):
        target.tiers[row.tier] += 1


def top_models(models: Counter[str], limit: int = 4) -> Sequence[tuple[str, int]]:
    return models.most_common(limit)
