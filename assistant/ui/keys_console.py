"""The console's API-key pages: list keys with their usage, create one (secret shown once), set or
clear a key's expiry, revoke.

Admins only (`signed_in_admin`: sign-in page for nobody, forbidden page for non-admins), server
rendered with no script, under the console's CSP. Every form POST needs the session's CSRF token,
like resolving an escalation, and every change is an `api_key` record in the audit trail naming
the key by its public prefix. The secret is in the one response to the create form and nowhere
else: never in a redirect, a log line, an audit record, or the list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from html import escape
from typing import TYPE_CHECKING

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant.api.usage import KeyUsage, usage_by_key
from assistant.executors import run_io
from assistant.governance.api_keys import SCOPES, ApiKeyError, ApiKeyPublic
from assistant.governance.audit import AuditEvent
from assistant.governance.requester import token_from_scope
from assistant.identity import Principal
from assistant.ui.console_page import (
    admin_for_form,
    admin_or_refusal,
    console_page,
    expired_form,
    form_accepted,
)
from assistant.ui.csrf import hidden_field

if TYPE_CHECKING:
    from assistant.governance.component import Governance

KEYS_PATH = "/admin/api-keys"
# The listing page, re-rendered with a notice (and a status) when a form is refused.
ListingPage = Callable[[Request, str, int], Awaitable[HTMLResponse]]
KEYS_STYLE = "code.secret{font-size:1.05rem;word-break:break-all}form.expiry{white-space:nowrap}"


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    return console_page(title, body, status=status, style=KEYS_STYLE)


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else "never"


def _expiry_cell(key: ApiKeyPublic, csrf_field: str) -> str:
    """When the key stops working, and (unless revoked) a form to set or clear it."""
    shown = escape(_when(key.expires_at))
    if key.status == "revoked":
        return shown
    current = f"{key.expires_at:%Y-%m-%d}" if key.expires_at is not None else ""
    return (
        f'{shown}<form class="expiry" method="post" action="{KEYS_PATH}/{escape(key.prefix)}/expiry">'
        f'{csrf_field}<input type="date" name="expires_on" value="{current}" '
        f'aria-label="New expiry date of {escape(key.name)} (UTC)"> '
        '<button type="submit" name="action" value="set">Set expiry</button> '
        '<button type="submit" name="action" value="clear">Never expire</button></form>'
    )


def _row(key: ApiKeyPublic, groups: str, usage: KeyUsage, csrf_field: str) -> str:
    revoke = (
        f'<form method="post" action="{KEYS_PATH}/{escape(key.prefix)}/revoke">{csrf_field}'
        '<button type="submit">Revoke</button></form>'
        if key.status == "active"
        else ""
    )
    cells = (
        key.name, key.prefix, key.owner, groups or "none", ", ".join(key.scopes), key.status,
        _when(key.created_at), _when(key.last_used_at), str(usage.requests), str(usage.refusals),
        f"{usage.tokens:,}", f"${usage.cost_usd:.4f}",
    )  # fmt: skip
    plain = "".join(f"<td>{escape(c)}</td>" for c in cells)
    return f"<tr>{plain}<td>{_expiry_cell(key, csrf_field)}</td><td>{revoke}</td></tr>"


def render_keys(
    keys: list[tuple[ApiKeyPublic, str]], usage: dict[str, KeyUsage], csrf_field: str, notice: str = ""
) -> str:
    head = (
        "<tr><th>Name</th><th>Key</th><th>Owner</th><th>Groups</th><th>Scopes</th><th>Status</th>"
        "<th>Created (UTC)</th><th>Last used</th><th>Requests</th><th>Refusals</th><th>Tokens</th>"
        "<th>Cost</th><th>Expires (UTC)</th><th></th></tr>"
    )
    rows = "".join(_row(k, g, usage.get(k.prefix, KeyUsage(k.prefix)), csrf_field) for k, g in keys)
    table = f"<table>{head}{rows}</table>" if keys else "<p>No API keys yet.</p>"
    return f"{notice}<h2>Keys and their usage</h2>{table}{_create_form(csrf_field)}"


def _create_form(csrf_field: str) -> str:
    scopes = "".join(
        f'<label><input type="checkbox" name="scopes" value="{s}"{" checked" if s == "chat" else ""}> '
        f"{s}</label> "
        for s in SCOPES
    )
    return (
        f'<h2>Create a key</h2><form method="post" action="{KEYS_PATH}">{csrf_field}'
        '<p><label>Name <input name="name" required maxlength="150"></label> '
        '<label>Owner account <input name="owner" required maxlength="150"></label></p>'
        f"<p>Scopes: {scopes}</p>"
        '<p><label>Requests a minute <input name="rate" type="number" min="1" value="60"></label> '
        '<label>Daily tokens (empty: none) <input name="daily_tokens" type="number" min="1"></label> '
        '<label>Expires in days (empty: never) <input name="expires_days" type="number" min="1"></label></p>'
        '<button type="submit">Create</button></form>'
    )


def created_page(key: ApiKeyPublic, secret: str) -> HTMLResponse:
    body = (
        f"<p>The key <strong>{escape(key.name)}</strong> for {escape(key.owner)} was created. "
        "Copy it now: it is shown only this once and cannot be recovered.</p>"
        f'<p><code class="secret">{escape(secret)}</code></p>'
        f'<p><a href="{KEYS_PATH}">Back to the keys</a></p>'
    )
    return _page("API key created", body)


def _listing(governance: Governance) -> tuple[list[tuple[ApiKeyPublic, str]], dict[str, KeyUsage]]:
    keys = []
    for key in governance.api_keys.list():
        owner = governance.accounts.get_user(username=key.owner)
        keys.append((key, ", ".join(sorted(owner.groups)) if owner else ""))
    return keys, usage_by_key(governance.engine)


def _optional_int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value else None


def expiry_from_form(action: str, expires_on: str) -> datetime | None:
    """The new expiry: None for "Never expire", else the start (00:00 UTC) of the chosen day."""
    if action == "clear":
        return None
    if not expires_on.strip():
        raise ApiKeyError("choose a date, or press Never expire")
    try:
        day = date.fromisoformat(expires_on.strip())
    except ValueError:
        raise ApiKeyError(f"not a date: {expires_on.strip()[:40]!r} (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _audit(governance: Governance, admin: Principal, detail: str) -> None:
    """One `api_key` record per change, naming the key by prefix (never its secret)."""
    governance.audit.record(AuditEvent(kind="api_key", user_id=admin.user_id, detail=detail))


def keys_router(governance: Governance, *, allowed_origins: list[str]) -> APIRouter:
    router = APIRouter()

    async def listing_page(request: Request, notice: str = "", status: int = 200) -> HTMLResponse:
        keys, usage = await run_io(_listing, governance)
        csrf_field = hidden_field(token_from_scope(request.scope))
        return _page("API keys", render_keys(keys, usage, csrf_field, notice), status=status)

    @router.get(KEYS_PATH, response_class=HTMLResponse)
    async def keys_page(request: Request) -> HTMLResponse:
        admin = admin_or_refusal(request, governance)
        return admin if isinstance(admin, HTMLResponse) else await listing_page(request)

    @router.post(KEYS_PATH)
    async def create(request: Request) -> Response:
        admin = admin_or_refusal(request, governance)
        if isinstance(admin, HTMLResponse):
            return admin
        form = await request.form()
        if not form_accepted(request, str(form.get("csrf_token", "")), allowed_origins):
            return expired_form(KEYS_PATH)
        try:
            key, secret = await run_io(
                governance.api_keys.create,
                owner=str(form.get("owner", "")),
                name=str(form.get("name", "")),
                created_by=admin.user_id,
                scopes=tuple(str(s) for s in form.getlist("scopes")),
                rate_per_minute=_optional_int(str(form.get("rate", ""))) or 60,
                daily_tokens=_optional_int(str(form.get("daily_tokens", ""))),
                expires_in_days=_optional_int(str(form.get("expires_days", ""))),
            )
        except (ApiKeyError, ValueError) as exc:
            notice = f'<p role="alert"><strong>Not created:</strong> {escape(str(exc))}</p>'
            return await listing_page(request, notice)
        await run_io(_audit, governance, admin, f"key={key.prefix} created owner={key.owner}")
        return created_page(key, secret)

    _add_changes(router, governance, allowed_origins, listing_page)
    return router


def _add_changes(
    router: APIRouter, governance: Governance, allowed_origins: list[str], listing_page: ListingPage
) -> None:
    """The forms that change an existing key: its expiry, and revoking it."""

    @router.post(KEYS_PATH + "/{prefix}/expiry")
    async def set_expiry(
        request: Request, prefix: str, action: str = Form("set"), expires_on: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:  # fmt: skip
        admin = admin_for_form(request, governance, csrf_token, allowed_origins, KEYS_PATH)
        if isinstance(admin, HTMLResponse):
            return admin
        try:
            expires = expiry_from_form(action, expires_on)
            key = await run_io(governance.api_keys.set_expiry, prefix=prefix, expires_at=expires)
        except ApiKeyError as exc:
            notice = f'<p role="alert"><strong>Expiry not changed:</strong> {escape(str(exc))}</p>'
            return await listing_page(request, notice, 400)
        when = f"{key.expires_at:%Y-%m-%dT%H:%MZ}" if key.expires_at else "never"
        await run_io(_audit, governance, admin, f"key={key.prefix} expiry={when}")
        return RedirectResponse(KEYS_PATH, status_code=303)

    @router.post(KEYS_PATH + "/{prefix}/revoke")
    async def revoke(request: Request, prefix: str, csrf_token: str = Form("")) -> Response:
        admin = admin_for_form(request, governance, csrf_token, allowed_origins, KEYS_PATH)
        if isinstance(admin, HTMLResponse):
            return admin
        try:
            key = await run_io(governance.api_keys.revoke, prefix=prefix)
        except ApiKeyError:
            return _page("No such key", f'<p>No API key {escape(prefix)}. <a href="{KEYS_PATH}">Back</a></p>')
        await run_io(_audit, governance, admin, f"key={key.prefix} revoked")
        return RedirectResponse(KEYS_PATH, status_code=303)


def usage_section(governance: Governance) -> str:
    """The dashboard's split by API key: requests, refusals, tokens and cost per key."""
    usage = usage_by_key(governance.engine)
    names = {key.prefix: key.name for key in governance.api_keys.list()}
    if not usage:
        return "<section><h2>API usage by key</h2><p>No API requests yet.</p></section>"
    head = "<tr><th>Key</th><th>Name</th><th>Requests</th><th>Refusals</th><th>Tokens</th><th>Cost</th></tr>"
    rows = "".join(
        f"<tr><td>{escape(u.prefix)}</td><td>{escape(names.get(u.prefix, '(deleted)'))}</td>"
        f"<td>{u.requests}</td><td>{u.refusals}</td><td>{u.tokens:,}</td><td>${u.cost_usd:.4f}</td></tr>"
        for u in sorted(usage.values(), key=lambda u: -u.requests)
    )
    return (
        f'<section><h2>API usage by key</h2><table class="keys">{head}{rows}</table>'
        f'<p><a href="{KEYS_PATH}">Manage API keys</a></p></section>'
    )
