"""One escalation's conversation, read-only, for an admin: `/admin/escalations/{id}`.

Chainlit's data layer shows a thread only to its owner, so the console's old "open the chat" link
landed an admin in their own empty chat. This page reads the escalated thread straight from the
data layer's tables (on the io lane) and shows its messages in order, with the tier and route a
turn had when the answer stored them, beside the escalation's reason and detail and the Resolve
form.

It must never become a way to read anyone's chat: only admins, only a thread an escalation names,
and only when that thread belongs to the user who opened the escalation (otherwise it answers 404
exactly as for a missing escalation). Every view is an audited act: one `escalation_view` record
naming the admin, the escalation and the thread, never a word of the conversation. All stored text
is escaped; the page loads no script.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from assistant.executors import run_io
from assistant.governance.audit import AuditEvent
from assistant.governance.escalations import Escalation
from assistant.governance.requester import token_from_scope
from assistant.governance.tables import ChatThread
from assistant.identity import Principal
from assistant.ui.console_page import admin_or_refusal, console_page, tier_chip
from assistant.ui.csrf import hidden_field

if TYPE_CHECKING:
    from assistant.governance.component import Governance

ESCALATION_PAGE = "/admin/escalations/{escalation_id}"
# Chainlit's step types for what the user wrote and what the assistant answered; tool steps
# (the privacy receipt, retrieval) are display detail and stay out of the transcript.
_ROLES: dict[str, Literal["user", "assistant"]] = {"user_message": "user", "assistant_message": "assistant"}
TRANSCRIPT_STYLE = """
.turn{border:1px solid #ddd;border-radius:6px;padding:.4rem .75rem;margin:.5rem 0}
.turn-user{border-left:4px solid #2563eb}.turn-assistant{border-left:4px solid #6b7280}
.turn .text{white-space:pre-wrap;margin:.25rem 0}
@media (prefers-color-scheme:dark){.turn{border-color:#444}}
"""


def escalation_path(escalation_id: str) -> str:
    return f"/admin/escalations/{escalation_id}"


class TranscriptTurn(BaseModel):
    """One message of the escalated thread as stored; tier/route only where the answer stored them."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    text: str
    at: str
    tier: str | None = None
    route: str | None = None


class Transcript(BaseModel):
    model_config = ConfigDict(frozen=True)

    escalation: Escalation
    thread_id: str
    turns: tuple[TranscriptTurn, ...]


def _turn(step: dict[str, Any]) -> TranscriptTurn | None:
    role = _ROLES.get(str(step.get("type", "")))
    if role is None:
        return None
    meta = step.get("metadata") or {}
    meta = meta if isinstance(meta, dict) else {}
    return TranscriptTurn(
        role=role,
        text=str(step.get("output") or step.get("input") or ""),
        at=str(step.get("createdAt") or ""),
        tier=str(meta["tier"]) if meta.get("tier") else None,
        route=str(meta["route"]) if meta.get("route") else None,
    )


def read_transcript(governance: Governance, escalation_id: str) -> Transcript | None:
    """The escalated thread's messages, oldest first; None unless an escalation names a thread that
    belongs to the user who opened it (a ticket cannot point an admin at someone else's chat)."""
    escalation = governance.escalations.get(escalation_id)
    if escalation is None or not escalation.thread_id:
        return None
    with Session(governance.engine) as session:
        thread = session.get(ChatThread, escalation.thread_id)
        owner = thread.owner if thread is not None else None
    if owner is None or owner != escalation.user_id:
        return None
    data = governance.history.get_thread(escalation.thread_id, owner)
    if data is None:
        return None
    turns = (_turn(step) for step in data.get("steps", []))
    return Transcript(
        escalation=escalation,
        thread_id=escalation.thread_id,
        turns=tuple(turn for turn in turns if turn is not None),
    )


def record_view(governance: Governance, admin: Principal, transcript: Transcript) -> None:
    """The audit record of an admin reading a user's conversation: who, which ticket, which thread."""
    governance.audit.record(
        AuditEvent(
            kind="escalation_view",
            user_id=admin.user_id,
            thread_id=transcript.thread_id,
            detail=f"escalation={transcript.escalation.id[:64]} owner={transcript.escalation.user_id[:150]}",
        )
    )


def _turn_html(turn: TranscriptTurn) -> str:
    route = f" · route {escape(turn.route)}" if turn.route else ""
    tier = f" · {tier_chip(turn.tier)}" if turn.tier else ""
    return (
        f'<article class="turn turn-{turn.role}"><p><strong>{turn.role}</strong> · '
        f"{escape(turn.at)}{tier}{route}</p>"
        f'<div class="text">{escape(turn.text)}</div></article>'
    )


def _resolution_html(item: Escalation, csrf_field: str) -> str:
    if item.status == "resolved":
        when = f"{item.resolved_at:%Y-%m-%d %H:%M} UTC" if item.resolved_at else ""
        return (
            f"<p>Resolved by {escape(item.resolved_by or '')} {when}: "
            f"{escape(item.resolution_note or '')}</p>"
        )
    return (
        f'<form method="post" action="/admin/escalations/{escape(item.id)}/resolve">{csrf_field}'
        '<label>Note <input name="note" maxlength="2000"></label> <button type="submit">Resolve</button>'
        "</form>"
    )


def render_transcript(transcript: Transcript, csrf_field: str) -> str:
    item = transcript.escalation
    turns = "".join(_turn_html(turn) for turn in transcript.turns) or "<p>No messages stored.</p>"
    return (
        f'<section class="esc"><p><strong>{escape(item.reason.replace("_", " "))}</strong> from '
        f"{escape(item.user_id)}, {item.created_at:%Y-%m-%d %H:%M} UTC · {escape(item.status)}</p>"
        f"<p>{escape(item.detail)}</p>{_resolution_html(item, csrf_field)}</section>"
        f"<section><h2>The conversation ({len(transcript.turns)} messages, read-only)</h2>"
        "<p>Your reply does not appear in this chat: contact the user directly.</p>"
        f"{turns}</section>"
    )


def _not_found() -> HTMLResponse:
    body = '<p>No escalation with a conversation here. <a href="/admin/dashboard">Back to the console</a></p>'
    return console_page("No such escalation", body, status=404)


def escalation_router(governance: Governance) -> APIRouter:
    router = APIRouter()

    @router.get(ESCALATION_PAGE, response_class=HTMLResponse)
    async def escalation_page(request: Request, escalation_id: str) -> HTMLResponse:
        admin = admin_or_refusal(request, governance)
        if isinstance(admin, HTMLResponse):
            return admin
        transcript = await run_io(read_transcript, governance, escalation_id)
        if transcript is None:
            return _not_found()
        # Recorded before the page is sent: a view that cannot be audited is not shown (fails closed).
        await run_io(record_view, governance, admin, transcript)
        csrf_field = hidden_field(token_from_scope(request.scope))
        body = render_transcript(transcript, csrf_field)
        return console_page("Escalated conversation", body, style=TRANSCRIPT_STYLE)

    return router
