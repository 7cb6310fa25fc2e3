"""The figures behind the admin dashboard, computed from the audit trail, feedback and escalations.

Read-only: it aggregates per UTC day over a bounded window and never returns raw text or
anything per-message that could identify what a user asked.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.governance.tables import AuditRow, ChatFeedback, EscalationRow, as_utc, utcnow
from assistant.tools.observe import ToolFigures, tool_figures


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


class DashboardFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    days: list[str]
    latency_ms: dict[str, dict[str, list[float | None]]]  # route -> p50/p95/p99 -> per day
    tier_split: dict[str, int]
    cost_per_day: list[float]
    cost_per_query: list[float | None]
    tokens_per_day: dict[str, list[float | None]]
    feedback_positive_ratio: list[float | None]
    escalation_rate: list[float | None]
    fallback_rate: list[float | None]
    schema_success_rate: list[float | None]
    turns: int
    model_calls: int
    # Tool calls and tool-loop terminations (issue 14).
    tools: ToolFigures = ToolFigures()


def _day(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d")


def compute_figures(engine: Engine, *, days: int = 14, now: datetime | None = None) -> DashboardFigures:
    end = as_utc(now or utcnow())
    start = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    day_keys = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    with Session(engine) as session:
        rows = session.exec(
            select(AuditRow)
            .where(col(AuditRow.occurred_at) >= start)
            .order_by(col(AuditRow.seq))
            .limit(200_000)
        ).all()
        feedback = session.exec(select(ChatFeedback).where(col(ChatFeedback.created_at) >= start)).all()
        escalations = session.exec(select(EscalationRow).where(col(EscalationRow.created_at) >= start)).all()

    calls = [row for row in rows if row.kind == "model_call"]
    decisions = [row for row in rows if row.kind == "routing_decision"]
    turns_by_day = Counter(_day(row.occurred_at) for row in decisions)
    return DashboardFigures(
        days=day_keys,
        latency_ms=_latency(calls, day_keys),
        tier_split=dict(Counter(row.tier or "unknown" for row in decisions)),
        cost_per_day=_per_day_sum(calls, day_keys, "cost_usd"),
        cost_per_query=[
            _ratio_f(cost, turns_by_day[day])
            for cost, day in zip(_per_day_sum(calls, day_keys, "cost_usd"), day_keys, strict=True)
        ],
        tokens_per_day={
            "prompt": list(_per_day_sum(calls, day_keys, "prompt_tokens")),
            "completion": list(_per_day_sum(calls, day_keys, "completion_tokens")),
        },
        feedback_positive_ratio=_rate_by_day(
            [(_day(f.created_at), f.value == 1) for f in feedback], day_keys
        ),
        escalation_rate=[
            _ratio(n, turns_by_day[day])
            for n, day in zip(
                _count_by_day([_day(e.created_at) for e in escalations], day_keys), day_keys, strict=True
            )
        ],
        fallback_rate=_rate_by_day([(_day(r.occurred_at), r.outcome == "fallback") for r in calls], day_keys),
        schema_success_rate=_rate_by_day(
            [(_day(r.occurred_at), bool(r.schema_valid)) for r in calls if r.schema_valid is not None],
            day_keys,
        ),
        turns=len(decisions),
        model_calls=len(calls),
        tools=tool_figures(rows),
    )


def _ratio_f(value: float, denominator: int) -> float | None:
    return value / denominator if denominator else None


def _latency(calls: Sequence[AuditRow], day_keys: list[str]) -> dict[str, dict[str, list[float | None]]]:
    grouped: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in calls:
        if row.latency_ms is not None:
            grouped[row.route or "unknown"][_day(row.occurred_at)].append(row.latency_ms)
    return {
        route: {f"p{q}": [percentile(by_day.get(day, []), q) for day in day_keys] for q in (50, 95, 99)}
        for route, by_day in sorted(grouped.items())
    }


def _per_day_sum(rows: Sequence[AuditRow], day_keys: list[str], field: str) -> list[float]:
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        totals[_day(row.occurred_at)] += float(getattr(row, field) or 0)
    return [totals.get(day, 0.0) for day in day_keys]


def _count_by_day(days: Sequence[str], day_keys: list[str]) -> list[int]:
    counts = Counter(days)
    return [counts.get(day, 0) for day in day_keys]


def _rate_by_day(events: Sequence[tuple[str, bool]], day_keys: list[str]) -> list[float | None]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for day, hit in events:
        totals[day] += 1
        hits[day] += int(hit)
    return [_ratio(hits[day], totals[day]) for day in day_keys]
