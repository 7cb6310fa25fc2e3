"""The console's capability map: each capability with its routing by tier, the models that
answered, cost per day and outcome figures — the playbook's "feature → outcome → LLM benefit".

Admins only, server-rendered, no script. Routing by tier comes from the privacy policy in force
(the same for every capability: a capability can never send a tier elsewhere); the figures come
from the audit trail (`capability_data`) and the review queue's grades. Shows no message content.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from assistant.executors import run_background
from assistant.review.accuracy import GradedAccuracy, graded_accuracy_by_capability
from assistant.ui.capability_data import CapabilityFigures, capability_figures, top_models
from assistant.ui.charts import duration
from assistant.ui.console import ConsoleRefusal, refusal_page, signed_in_admin
from assistant.ui.console_page import console_page, tier_chip
from routing.policy import Policy

if TYPE_CHECKING:
    from assistant.governance.component import Governance

CAPABILITIES_PATH = "/admin/capabilities"
ROUTE_WORDS = {
    "local": "local model only, never leaves this machine",
    "hosted_pseudonymized": "hosted model, names and identifiers replaced first",
    "hosted": "hosted model as is",
}
PURPOSE = {
    "chat": "Everyday questions and drafting.",
    "document Q&A": "Answers from company documents, with citations.",
    "summaries": "Cited summaries of uploaded files.",
    "tools": "Actions the assistant takes through approved tools.",
    "API": "Programs calling Confidante with an API key.",
}
REVIEW_NAMES = {"chat": "chat", "document Q&A": "document_qa", "summaries": "summaries"}


def _pct(value: float | None) -> str:
    return "no data yet" if value is None else f"{value:.0%}"


def routing_html(policy: Policy) -> str:
    items = "".join(
        f"<li>{tier_chip(str(tier))} → {escape(ROUTE_WORDS.get(str(rule.route), str(rule.route)))}</li>"
        for tier, rule in policy.tiers.items()
    )
    return f"<ul>{items}</ul>"


def _accuracy(graded: GradedAccuracy | None) -> str:
    if graded is None:
        return "no graded answers yet"
    a = graded.accuracy
    if a.value is None:
        return f"not enough data yet (n={a.n})"
    return f"{a.value:.0%} correct ({(a.low or 0):.0%}–{(a.high or 0):.0%}, n={a.n})"


def capability_card(f: CapabilityFigures, days: int, routing: str, graded: GradedAccuracy | None) -> str:
    models = "".join(
        f"<li>{escape(m)}: {n:,} call{'s' if n != 1 else ''}</li>" for m, n in top_models(f.models)
    )
    tiers = ", ".join(f"{tier_chip(t)} {n:,}" for t, n in sorted(f.tiers.items())) or "none yet"
    latency = f.latency_p95_ms
    anchor = "cap-" + "".join(c if c.isalnum() else "-" for c in f.name.lower())
    schema = f.schema_valid / f.schema_checked if f.schema_checked else None
    return (
        f'<section class="item" aria-labelledby="{anchor}">'
        f'<h2 id="{anchor}">{escape(f.name)}</h2><p>{escape(PURPOSE[f.name])}</p>'
        f"<h3>Routing by tier</h3>{routing}"
        f"<h3>Models that answered</h3><ul>{models or '<li>none yet</li>'}</ul>"
        "<h3>Outcomes</h3><dl>"
        f"<dt>Use</dt><dd>{escape(f.use)}; {escape(f.tiers_label)}: {tiers}</dd>"
        f"<dt>Cost per day</dt><dd>${f.cost_per_day(days):,.4f} (${f.cost_usd:,.4f} in {days} days)</dd>"
        f"<dt>Answered without a problem</dt><dd>{_pct(f.ok_rate)}</dd>"
        f"<dt>Latency p95</dt><dd>{'no data yet' if latency is None else duration(latency)}</dd>"
        f"<dt>Answers in the expected format</dt><dd>{_pct(schema)}</dd>"
        f"<dt>Graded accuracy (review queue)</dt><dd>{escape(_accuracy(graded))}</dd></dl></section>"
    )


def render_map(
    figures: dict[str, CapabilityFigures], policy: Policy, graded: dict[str, GradedAccuracy], days: int
) -> str:
    routing = routing_html(policy)
    cards = "".join(
        capability_card(f, days, routing, graded.get(REVIEW_NAMES.get(name, "")))
        for name, f in figures.items()
    )
    return (
        f"<p>Last {days} days (UTC), from the audit trail. Policy {escape(policy.version)}: every "
        "capability follows the same routing by tier; none can send a tier anywhere else.</p>"
        f'<div class="grid">{cards}</div>'
    )


def capability_router(governance: Governance, policy: Callable[[], Policy]) -> APIRouter:
    router = APIRouter()

    @router.get(CAPABILITIES_PATH, response_class=HTMLResponse)
    async def capability_map(request: Request, days: int = 14) -> HTMLResponse:
        try:
            signed_in_admin(request, governance)
        except ConsoleRefusal as refusal:
            return refusal_page(refusal)
        days = max(1, min(days, 90))
        figures = await run_background(capability_figures, governance.engine, days=days)
        graded = await run_background(graded_accuracy_by_capability, governance.engine)
        return console_page("Capability map", render_map(figures, policy(), graded, days))

    return router
