"""The console's experiments pages: define and stop A/B experiments, compare their variants.

Admins only (`signed_in_admin`), server-rendered HTML with no script, the console's CSP. Every
form POST carries the session's CSRF token and is refused without it, like resolving an
escalation. Figures are the same `report` cells `confidante experiments show` prints, so below
the minimum n a cell says "not enough data yet" instead of a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from assistant.executors import run_background, run_io
from assistant.experiments.metrics import VariantMetrics, compare
from assistant.experiments.models import CAPABILITIES, Experiment, ExperimentSpec, parse_variant
from assistant.experiments.prompts import MAP_PROMPTS, PROMPT_TEMPLATES
from assistant.experiments.report import (
    GRADED_CAPABILITIES,
    Graded,
    cells,
    describe_variant,
    graded_rows,
    rows_for,
)
from assistant.experiments.store import ExperimentError, ExperimentStore
from assistant.governance.requester import token_from_scope
from assistant.review.accuracy import graded_accuracy_by_variant
from assistant.ui.console import ConsoleRefusal, refusal_page
from assistant.ui.console_page import admin_for_form, admin_or_refusal, console_page
from assistant.ui.csrf import hidden_field

if TYPE_CHECKING:
    from assistant.governance.component import Governance

EXPERIMENTS_PATH = "/admin/experiments"
EXPERIMENTS_STYLE = "textarea{width:32rem;max-width:100%}"


def _page(title: str, body: str) -> HTMLResponse:
    return console_page(title, body, style=EXPERIMENTS_STYLE)


def _variant_text(experiment: Experiment) -> str:
    return "; ".join(
        f"{v.name} {v.share:.0%} ({describe_variant(v, experiment.capability)})" for v in experiment.variants
    )


def render_list(experiments: list[Experiment], csrf_field: str, error: str = "") -> str:
    rows = "".join(
        f'<tr><td><a href="{EXPERIMENTS_PATH}/{escape(e.id)}">{escape(e.id)}</a></td>'
        f"<td>{escape(e.capability)}</td><td>{escape(e.status)}</td><td>{escape(_variant_text(e))}</td>"
        f"<td>{_stop_form(e, csrf_field)}</td></tr>"
        for e in experiments
    )
    table = (
        "<table><thead><tr><th>Experiment</th><th>Capability</th><th>Status</th><th>Variants</th>"
        f"<th></th></tr></thead><tbody>{rows}</tbody></table>"
        if experiments
        else "<p>No experiments yet.</p>"
    )
    alert = f'<p role="alert"><strong>{escape(error)}</strong></p>' if error else ""
    return f"<section><h2>Experiments</h2>{table}</section>{alert}{_create_form(csrf_field)}"


def _stop_form(experiment: Experiment, csrf_field: str) -> str:
    if experiment.status != "running":
        return ""
    action = f"{EXPERIMENTS_PATH}/{escape(experiment.id)}/stop"
    return f'<form method="post" action="{action}">{csrf_field}<button type="submit">Stop</button></form>'


def _create_form(csrf_field: str) -> str:
    options = "".join(f'<option value="{c}">{c.replace("_", " ")}</option>' for c in CAPABILITIES)
    templates = ", ".join(PROMPT_TEMPLATES)
    return (
        f'<section><h2>New experiment</h2><form method="post" action="{EXPERIMENTS_PATH}">{csrf_field}'
        '<p><label>Experiment name <input name="experiment_id" required '
        'pattern="[a-z0-9][a-z0-9_-]{0,39}"></label></p>'
        f'<p><label>Capability <select name="capability">{options}</select></label></p>'
        '<p><label>Description <input name="description" maxlength="500"></label></p>'
        "<p><label>Variants, one a line: NAME:SHARE[:key=value,…]<br>"
        '<textarea name="variants" rows="3" required>'
        "control:0.5\nconcise:0.5:prompt=chat-v2-concise</textarea>"
        "</label></p><p>Keys: for chat and document Q&amp;A prompt, k, rerank=on|off, model; for "
        "summaries map (map prompt) and batch (tokens per map step); for tools tools=on|off and steps "
        f"(at most that many tool rounds). Prompt templates: {escape(templates)}. Map prompts: "
        f"{escape(', '.join(MAP_PROMPTS))}. A variant never changes where a message may be sent: the "
        "privacy policy decides that, for every variant alike.</p>"
        '<p><button type="submit">Start</button></p></form></section>'
    )


def render_comparison(
    experiment: Experiment, metrics: list[VariantMetrics], graded: Mapping[str, Graded] | None = None
) -> str:
    head = "".join(f'<th scope="col">{escape(m.variant)} ({m.turns} turns)</th>' for m in metrics)
    shown = rows_for(experiment.capability)
    columns = [cells(m, shown) for m in metrics]
    table = [[label, *(column[index] for column in columns)] for index, (label, _, _) in enumerate(shown)]
    note = ""
    if experiment.capability in GRADED_CAPABILITIES:
        table += graded_rows([m.variant for m in metrics], graded or {})
        note = _GRADED_NOTE
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f"<td>{escape(v)}</td>" for v in values)
        + "</tr>"
        for label, *values in table
    )
    return (
        f"<p>{escape(experiment.capability.replace('_', ' '))} · {escape(experiment.status)} · "
        f"{escape(_variant_text(experiment))}</p><p>{escape(experiment.description)}</p>"
        f'<table aria-label="Variants side by side"><thead><tr><th>Metric</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        "<p>In brackets: 95 % intervals (Wilson for rates, seeded bootstrap for means and latency) and n. "
        "Task completion: a thumbs-up, or the user moving on without correcting, rephrasing or "
        f"escalating within the next two turns.{note}</p>"
    )


_GRADED_NOTE = (
    " Graded accuracy: the share of the answers sampled for review that a reviewer graded correct "
    "(partly counts as not correct)."
)


def _spec_from_form(experiment_id: str, capability: str, description: str, variants: str) -> ExperimentSpec:
    lines = [line for line in variants.splitlines() if line.strip()]
    return ExperimentSpec.model_validate(
        {
            "id": experiment_id.strip(),
            "capability": capability,
            "description": description,
            "variants": [parse_variant(line) for line in lines],
        }
    )


def experiments_router(governance: Governance, *, allowed_origins: list[str]) -> APIRouter:
    router = APIRouter()
    store = ExperimentStore(governance.engine)
    _add_pages(router, governance, store)
    _add_forms(router, governance, store, allowed_origins)
    return router


def _add_pages(router: APIRouter, governance: Governance, store: ExperimentStore) -> None:
    @router.get(EXPERIMENTS_PATH, response_class=HTMLResponse)
    async def experiments_page(request: Request) -> HTMLResponse:
        admin = admin_or_refusal(request, governance)
        if isinstance(admin, HTMLResponse):
            return admin
        experiments = await run_io(store.experiments)
        field = hidden_field(token_from_scope(request.scope))
        return _page("Experiments", render_list(experiments, field))

    @router.get(EXPERIMENTS_PATH + "/{experiment_id}", response_class=HTMLResponse)
    async def comparison(request: Request, experiment_id: str) -> HTMLResponse:
        admin = admin_or_refusal(request, governance)
        if isinstance(admin, HTMLResponse):
            return admin
        experiment = await run_io(store.get, experiment_id)
        if experiment is None:
            return refusal_page(ConsoleRefusal(404, "No such experiment.", ""))
        facts = await run_io(store.turn_facts, experiment_id)
        metrics = compare(facts, [v.name for v in experiment.variants])
        graded = await run_background(graded_accuracy_by_variant, governance.engine, experiment_id)
        return _page(f"Experiment {experiment.id}", render_comparison(experiment, metrics, graded))


def _add_forms(
    router: APIRouter, governance: Governance, store: ExperimentStore, allowed_origins: list[str]
) -> None:
    @router.post(EXPERIMENTS_PATH)
    async def create(
        request: Request,
        experiment_id: str = Form(""),
        capability: str = Form("chat"),
        description: str = Form(""),
        variants: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:
        admin = admin_for_form(request, governance, csrf_token, allowed_origins, EXPERIMENTS_PATH)
        if isinstance(admin, HTMLResponse):
            return admin
        try:
            spec = _spec_from_form(experiment_id, capability, description, variants)
            await run_io(store.create, spec, created_by=admin.user_id)
        except (ValidationError, ValueError) as exc:
            field = hidden_field(token_from_scope(request.scope))
            page = _page("Experiments", render_list(store.experiments(), field, _reason(exc)))
            page.status_code = 400
            return page
        return RedirectResponse(f"{EXPERIMENTS_PATH}/{spec.id}", status_code=303)

    @router.post(EXPERIMENTS_PATH + "/{experiment_id}/stop")
    async def stop(request: Request, experiment_id: str, csrf_token: str = Form("")) -> Response:
        admin = admin_for_form(request, governance, csrf_token, allowed_origins, EXPERIMENTS_PATH)
        if isinstance(admin, HTMLResponse):
            return admin
        try:
            await run_io(store.stop, experiment_id, by=admin.user_id)
        except ExperimentError:
            return refusal_page(ConsoleRefusal(404, "No such experiment.", ""))
        return RedirectResponse(EXPERIMENTS_PATH, status_code=303)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"Not started: {where + ': ' if where else ''}{error['msg']}"
    return f"Not started: {exc}"
