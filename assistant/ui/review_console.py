"""The console's review queue: reviewers grade sampled answers correct / partly / wrong.

Open to admins and members of the review groups (`assistant.review.queue.may_review`); a
regulated answer is listed only to the groups the privacy policy names (`[review]` in the policy
file), and its text is never rendered for anyone else (the queue filters before this module sees
it). Every grade is a form POST with the session's CSRF token, refused without it, like resolving
an escalation.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant.executors import run_background, run_io
from assistant.experiments.store import ExperimentStore
from assistant.governance.requester import current_requester, identity_from_token, token_from_scope
from assistant.review.accuracy import GradedAccuracy, graded_accuracy_by_variant
from assistant.review.models import GRADES, ReviewItem, ReviewSettings
from assistant.review.queue import ReviewError, ReviewQueue, may_review
from assistant.ui.console import ConsoleRefusal, cross_site, refusal_page
from assistant.ui.console_page import console_page, tier_chip
from assistant.ui.csrf import csrf_valid, hidden_field, signing_secret
from knowledge.access import Principal
from routing.policy import Policy

if TYPE_CHECKING:
    from assistant.governance.component import Governance

REVIEW_PATH = "/admin/review"


def signed_in_reviewer(request: Request, governance: Governance, queue: ReviewQueue) -> Principal:
    username = current_requester() or identity_from_token(token_from_scope(request.scope))
    principal = governance.accounts.principal(username=username) if username else None
    if principal is None:
        raise ConsoleRefusal(401, "Sign in first.", '<p><a href="/login">Sign in</a> as a reviewer.</p>')
    if not may_review(principal, queue.access()):
        raise ConsoleRefusal(
            403,
            "Reviewers only.",
            '<p>The review queue is for administrators and reviewers. <a href="/">Back to the chat</a>.</p>',
        )
    return principal


def render_item(item: ReviewItem, csrf_field: str) -> str:
    variant = f" · variant {escape(item.variant)}" if item.variant else ""
    radios = "".join(
        f'<label><input type="radio" name="grade" value="{g}" required> {g}</label> ' for g in GRADES
    )
    return (
        f'<article class="item" aria-label="Answer {item.id}"><p>{tier_chip(item.tier)} '
        f"{escape(item.capability.replace('_', ' '))}{variant} · "
        f"asked {item.created_at:%Y-%m-%d %H:%M} UTC</p>"
        f"<p><strong>Question</strong></p><blockquote>{escape(item.question)}</blockquote>"
        f"<p><strong>Answer</strong></p><blockquote>{escape(item.answer)}</blockquote>"
        f'<form method="post" action="{REVIEW_PATH}/{item.id}/grade">{csrf_field}'
        f"<fieldset><legend>Grade answer {item.id}</legend>{radios}</fieldset>"
        f'<p><label>Note <input name="note" maxlength="2000"></label> '
        '<button type="submit">Save grade</button></p></form></article>'
    )


def render_accuracy(accuracy: dict[str, dict[str, GradedAccuracy]]) -> str:
    if not accuracy:
        return "<p>No graded answers from an experiment yet.</p>"
    rows = []
    for experiment_id, variants in accuracy.items():
        for v in variants.values():
            a = v.accuracy
            figure = (
                f"{a.value:.0%} ({(a.low or 0):.0%}–{(a.high or 0):.0%})"
                if a.value is not None
                else f"not enough data yet (n={a.n})"
            )
            rows.append(
                f"<tr><td>{escape(experiment_id)}</td><td>{escape(v.variant)}</td><td>{v.graded}</td>"
                f"<td>{v.correct} / {v.partly} / {v.wrong}</td><td>{escape(figure)}</td></tr>"
            )
    return (
        '<div class="wide"><table aria-label="Graded accuracy per variant"><thead><tr><th>Experiment</th>'
        "<th>Variant</th><th>Graded</th><th>Correct / partly / wrong</th><th>Accuracy (95 % interval)</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def render_graded(items: list[ReviewItem]) -> str:
    if not items:
        return "<p>Nothing graded yet.</p>"
    rows = "".join(
        f"<tr><td>{i.id}</td><td>{tier_chip(i.tier)}</td><td>{escape(i.capability.replace('_', ' '))}</td>"
        f"<td>{escape(i.grade or '')}</td><td>{escape(i.note or '')}</td>"
        f"<td>{escape(i.graded_by or '')}</td></tr>"
        for i in items
    )
    return (
        '<div class="wide"><table aria-label="Recently graded"><thead><tr><th>Answer</th><th>Tier</th>'
        f"<th>Capability</th><th>Grade</th><th>Note</th><th>By</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def render_review(
    pending: list[ReviewItem],
    graded: list[ReviewItem],
    accuracy: dict[str, dict[str, GradedAccuracy]],
    csrf_field: str,
) -> str:
    items = "".join(render_item(i, csrf_field) for i in pending) or "<p>Nothing to review right now.</p>"
    return (
        f"<p>A sample of answers, for you to grade. Regulated answers are shown only to the groups the "
        f"privacy policy names for them.</p><section><h2>To grade ({len(pending)})</h2>{items}</section>"
        f"<section><h2>Graded accuracy per variant</h2>{render_accuracy(accuracy)}</section>"
        f"<section><h2>Recently graded</h2>{render_graded(graded)}</section>"
    )


def review_router(
    governance: Governance,
    *,
    allowed_origins: list[str],
    settings: ReviewSettings | None = None,
    policy: Callable[[], Policy] | None = None,
) -> APIRouter:
    """`policy`: the policy in force (its `[review]` groups decide who reads regulated answers)."""
    router = APIRouter()
    queue = ReviewQueue(governance.engine, settings, policy=policy)
    experiments = ExperimentStore(governance.engine)

    def accuracy() -> dict[str, dict[str, GradedAccuracy]]:
        found = {e.id: graded_accuracy_by_variant(governance.engine, e.id) for e in experiments.experiments()}
        return {k: v for k, v in found.items() if v}

    @router.get(REVIEW_PATH, response_class=HTMLResponse)
    async def review_page(request: Request) -> HTMLResponse:
        try:
            reviewer = signed_in_reviewer(request, governance, queue)
        except ConsoleRefusal as refusal:
            return refusal_page(refusal)
        pending = await run_io(queue.pending_for, reviewer)
        graded = await run_io(queue.graded_for, reviewer)
        figures = await run_background(accuracy)
        field = hidden_field(token_from_scope(request.scope))
        return console_page("Review queue", render_review(pending, graded, figures, field))

    @router.post(REVIEW_PATH + "/{item_id}/grade")
    async def grade(
        request: Request,
        item_id: int,
        grade: str = Form(""),
        note: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:
        try:
            reviewer = signed_in_reviewer(request, governance, queue)
        except ConsoleRefusal as refusal:
            return refusal_page(refusal)
        session = token_from_scope(request.scope)
        if cross_site(request, allowed_origins) or not csrf_valid(csrf_token, session, signing_secret()):
            body = f'<p>Nothing was changed. <a href="{REVIEW_PATH}">Reload the queue</a> and try again.</p>'
            return refusal_page(ConsoleRefusal(403, "This form has expired.", body))
        try:
            await run_io(queue.grade, item_id, reviewer, grade, note)
        except ReviewError as exc:
            body = f'<p>{escape(str(exc))} <a href="{REVIEW_PATH}">Back to the queue</a>.</p>'
            return refusal_page(ConsoleRefusal(404, "Not graded.", body))
        return RedirectResponse(REVIEW_PATH, status_code=303)

    return router
