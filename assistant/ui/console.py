"""The admin dashboard and the other governance HTTP routes, mounted on Chainlit's FastAPI app.

Admins only: the signed-in account is read from Chainlit's own session token and its role is
checked fresh in the database (anonymous: a 401 page that links to sign-in, non-admin: a 403
page; never JSON). Charts are inline SVG; the page loads no script and no external resource, and
says so in its Content-Security-Policy. The one state-changing route (resolving an escalation)
needs the session's CSRF token from the form (`assistant.ui.csrf`), not an Origin header: with
`Referrer-Policy: no-referrer` Chromium sends `Origin: null` on a same-site form POST.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from assistant.executors import run_background, run_io
from assistant.governance.dashboard_data import DashboardFigures, compute_figures
from assistant.governance.escalations import Escalation, EscalationError
from assistant.governance.file_store import FILES_ROUTE, LocalFileStorage
from assistant.governance.requester import (
    RequesterMiddleware,
    current_requester,
    identity_from_token,
    token_from_scope,
)
from assistant.identity import Principal
from assistant.review.models import ReviewSettings
from assistant.ui.charts import CHART_STYLE, bar_chart, duration_scale, line_chart, plain_number
from assistant.ui.csrf import csrf_valid, hidden_field, signing_secret
from assistant.ui.session_guard import install_session_guard
from routing.policy import Policy, PolicySource

if TYPE_CHECKING:
    from assistant.governance.component import Governance

DASHBOARD_PATH = "/admin/dashboard"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'"
)
STYLE = (
    """
:root{color-scheme:light dark}
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;background:#fff;max-width:1240px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,520px),1fr));gap:1rem}
figure.chart{margin:0;border:1px solid #ddd;border-radius:6px;padding:.5rem;min-width:0}
figcaption{font-weight:600;font-size:.95rem}.legend{font-weight:400;margin-left:.75rem}
.key{margin-right:.75rem}.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.25em}
.esc{border:1px solid #ddd;border-radius:6px;padding:.5rem;margin:.5rem 0}
nav a{margin-right:.9rem}input,select,textarea{max-width:100%}main{overflow-wrap:anywhere}
@media (prefers-color-scheme:dark){body{color:#e5e5e5;background:#161616}a{color:#8ab4f8}
figure.chart,.esc{border-color:#444}}
@media (max-width:600px){body{margin:.75rem}}
"""
    + CHART_STYLE
)
CONSOLE_NAV = (
    '<nav aria-label="Console"><a href="/admin/dashboard">Dashboard</a>'
    '<a href="/admin/experiments">Experiments: compare variants</a>'
    '<a href="/admin/review">Review queue</a><a href="/admin/capabilities">Capability map</a>'
    '<a href="/admin/api-keys">API keys</a>'
    '<a href="/">Back to the chat</a></nav>'
)
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


class ConsoleRefusal(Exception):
    """Raised by `signed_in_admin`; rendered as a small HTML page, never as JSON."""

    def __init__(self, status: int, title: str, body: str) -> None:
        super().__init__(title)
        self.status, self.title, self.body = status, title, body


def signed_in_admin(request: Request, governance: Governance) -> Principal:
    """The requesting admin; 401 when nobody is signed in, 403 for anyone else."""
    username = current_requester() or identity_from_token(token_from_scope(request.scope))
    principal = governance.accounts.principal(username=username) if username else None
    if principal is None:
        raise ConsoleRefusal(
            401, "Sign in first.", '<p><a href="/login">Sign in</a> with an administrator account.</p>'
        )
    if not principal.is_admin:
        raise ConsoleRefusal(
            403,
            "Administrators only.",
            '<p>This console is for administrators. <a href="/">Back to the chat</a>.</p>',
        )
    return principal


def refusal_page(refusal: ConsoleRefusal) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Confidante admin console</title>'
        f"{VIEWPORT}<style>{STYLE}</style></head><body><h1>{escape(refusal.title)}</h1>{refusal.body}</body></html>"
    )
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
    return HTMLResponse(html, status_code=refusal.status, headers=headers)


def cross_site(request: Request, allowed_origins: list[str]) -> bool:
    """Extra check: an Origin that names another site is refused ("null" and none are left to
    the CSRF token, since Chromium sends "null" under `Referrer-Policy: no-referrer`)."""
    claimed = request.headers.get("origin")
    if not claimed or claimed == "null":
        return False
    parts = urlsplit(claimed)
    origin = f"{parts.scheme}://{parts.netloc}"
    own = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    return origin != own and origin not in allowed_origins


def _usd(value: float) -> str:
    return f"${value:,.4f}"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def dashboard_charts(figures: DashboardFigures) -> list[str]:
    days = [day[5:] for day in figures.days]
    charts = [
        line_chart(
            f"Latency by route: {route}",
            days,
            series,
            fmt=duration_scale([v for points in series.values() for v in points]),
        )
        for route, series in figures.latency_ms.items()
    ] or [line_chart("Latency by route", days, {})]
    tiers = figures.tier_split
    rates = {
        "escalations per turn": figures.escalation_rate,
        "fallbacks per model call": figures.fallback_rate,
    }
    return [
        *charts,
        bar_chart("Routing split by tier (turns)", list(tiers), list(tiers.values())),
        bar_chart("Cost per day", days, figures.cost_per_day, fmt=_usd),
        line_chart("Cost per query", days, {"cost per turn": figures.cost_per_query}, fmt=_usd),
        line_chart("Token usage per day", days, figures.tokens_per_day, fmt=plain_number),
        line_chart(
            "Feedback: share of thumbs up", days, {"thumbs up": figures.feedback_positive_ratio}, fmt=_pct
        ),
        line_chart("Escalation and fallback rates", days, rates, fmt=_pct),
        line_chart(
            "Answers in the expected format",
            days,
            {"in the expected format": figures.schema_success_rate},
            fmt=_pct,
        ),
        *_tool_charts(figures),
    ]


def _tool_charts(figures: DashboardFigures) -> list[str]:
    """Tool calls by what happened, and why tool loops ended (issue 14)."""
    tools = figures.tools
    outcomes = {
        "done or declined": tools.calls - tools.failures - tools.validation_errors - tools.refusals,
        "failed": tools.failures,
        "invalid arguments": tools.validation_errors,
        "refused": tools.refusals,
    }
    return [
        bar_chart(f"Tool calls ({tools.calls})", list(outcomes), list(outcomes.values())),
        bar_chart("Tool loops by termination", list(tools.terminations), list(tools.terminations.values())),
    ]


def render_dashboard(
    figures: DashboardFigures,
    escalations: list[Escalation],
    admin: Principal,
    csrf_field: str = "",
    extra: str = "",
) -> str:
    charts = dashboard_charts(figures)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Confidante admin dashboard</title>'
        f"{VIEWPORT}<style>{STYLE}</style></head><body>"
        "<header><h1>Confidante: how the assistant is doing</h1>"
        f"<p>Signed in as {escape(admin.display_name or admin.user_id)}. "
        f"Last {len(figures.days)} days (UTC): "
        f"{figures.turns} turns, {figures.model_calls} model calls.</p>"
        f"{CONSOLE_NAV}</header>"
        f'<main><section aria-label="Charts"><div class="grid">{"".join(charts)}</div></section>'
        f"<section><h2>Open escalations ({len(escalations)})</h2>"
        f"{_escalations_html(escalations, csrf_field)}</section>{extra}"
        "</main></body></html>"
    )


def _thread_html(item: Escalation) -> str:
    """A link to the escalation's page, where an admin reads the conversation (Chainlit's own
    thread URL shows a thread only to its owner: an admin landed in their own empty chat)."""
    if not item.thread_id:
        return "no thread"
    return f'<a href="/admin/escalations/{escape(item.id)}">read the conversation</a>'


def _escalations_html(escalations: list[Escalation], csrf_field: str = "") -> str:
    if not escalations:
        return "<p>None open.</p>"
    items = []
    for item in escalations:
        items.append(
            f'<div class="esc"><p><strong>{escape(item.reason.replace("_", " "))}</strong> from '
            f"{escape(item.user_id)}, {item.created_at:%Y-%m-%d %H:%M} UTC · {_thread_html(item)}</p>"
            f"<p>{escape(item.detail)}</p>"
            f'<form method="post" action="/admin/escalations/{escape(item.id)}/resolve">{csrf_field}'
            f'<label>Note <input name="note" maxlength="2000"></label> <button type="submit">Resolve</button>'
            "</form></div>"
        )
    return "".join(items)


def governance_router(
    governance: Governance, *, allowed_origins: list[str], review: ReviewSettings | None = None
) -> APIRouter:
    router = APIRouter()
    storage = LocalFileStorage(governance.files_dir)

    @router.get(DASHBOARD_PATH, response_class=HTMLResponse)
    async def dashboard(request: Request, days: int = 14) -> HTMLResponse:
        try:
            admin = signed_in_admin(request, governance)
        except ConsoleRefusal as refusal:
            return refusal_page(refusal)
        figures = await run_background(compute_figures, governance.engine, days=max(1, min(days, 90)))
        escalations = await run_io(governance.escalations.list_open)
        from assistant.ui.keys_console import usage_section  # the API split by key (issue 15)

        keys = await run_background(usage_section, governance)
        csrf_field = hidden_field(token_from_scope(request.scope))
        html = render_dashboard(figures, escalations, admin, csrf_field, keys)
        return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})

    @router.post("/admin/escalations/{escalation_id}/resolve")
    async def resolve(
        request: Request, escalation_id: str, note: str = Form(""), csrf_token: str = Form("")
    ) -> Response:
        try:
            admin = signed_in_admin(request, governance)
        except ConsoleRefusal as refusal:
            return refusal_page(refusal)
        session = token_from_scope(request.scope)
        if cross_site(request, allowed_origins) or not csrf_valid(csrf_token, session, signing_secret()):
            return refusal_page(
                ConsoleRefusal(
                    403,
                    "This form has expired.",
                    f'<p>Nothing was changed. <a href="{DASHBOARD_PATH}">Reload the console</a> '
                    "and try again.</p>",
                )
            )
        try:
            await run_io(governance.escalations.resolve, escalation_id, admin=admin.user_id, note=note)
        except EscalationError:
            raise HTTPException(status_code=404, detail="No such escalation.") from None
        return RedirectResponse(DASHBOARD_PATH, status_code=303)

    @router.get(FILES_ROUTE + "/{element_id}")
    async def element_file(element_id: str) -> Response:
        row = await run_io(governance.history.element_for_download, element_id, current_requester())
        if row is None or not row.object_key:
            raise HTTPException(status_code=404, detail="File not found.")
        data = await run_io(storage.read_bytes, row.object_key)
        return Response(
            data,
            media_type=row.mime or "application/octet-stream",
            headers={
                "Content-Disposition": "attachment",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private",
            },
        )

    router.add_api_route(
        "/metrics", governance.telemetry.metrics_endpoint, methods=["GET"], include_in_schema=False
    )
    # Imported here: the experiments pages build on this module's page helpers.
    from assistant.ui.experiments_console import experiments_router

    router.include_router(experiments_router(governance, allowed_origins=allowed_origins))
    from assistant.ui.keys_console import keys_router

    router.include_router(keys_router(governance, allowed_origins=allowed_origins))
    from assistant.ui.capability_console import capability_router
    from assistant.ui.review_console import review_router

    policy = _policy_source()  # one source: review groups and the capability map read the same policy
    router.include_router(
        review_router(governance, allowed_origins=allowed_origins, settings=review, policy=policy)
    )
    router.include_router(capability_router(governance, policy))
    from assistant.ui.escalation_page import escalation_router

    router.include_router(escalation_router(governance))
    return router


def _policy_source() -> Callable[[], Policy]:
    """The policy in force, read when the capability map is shown (reloaded when its file changes)."""
    source: list[PolicySource] = []

    def current() -> Policy:
        if not source:
            from assistant.settings import load_settings

            source.append(PolicySource(load_settings().routing.policy_path))
        return source[0].current()

    return current


def mount_governance_routes(
    app: FastAPI,
    governance: Governance,
    *,
    allowed_origins: list[str] | None = None,
    account_cache_s: float = 5.0,
    review: ReviewSettings | None = None,
) -> None:
    """Add the dashboard, escalation, file and /metrics routes ahead of Chainlit's catch-all route,
    and the requester middleware every ownership check relies on. Call before the server starts."""
    router = governance_router(governance, allowed_origins=allowed_origins or [], review=review)
    before = list(app.router.routes)
    app.include_router(router)
    added: list[BaseRoute] = [route for route in app.router.routes if route not in before]
    # Chainlit ends with GET /{full_path:path}: routes appended after it would never be reached.
    app.router.routes[:] = added + before
    accounts = governance.accounts
    install_session_guard(app)
    app.add_middleware(
        RequesterMiddleware,
        is_active=lambda name: accounts.principal(username=name) is not None,
        cache_s=account_cache_s,
    )
