"""The console's API-key pages: list keys with their usage, create one (secret shown once), revoke.

Admins only (`signed_in_admin`: sign-in page for nobody, forbidden page for non-admins), server
rendered with no script, under the console's CSP. Every form POST needs the session's CSRF token,
like resolving an escalation. The secret is in the one response to the create form and nowhere
else: never in a redirect, a log line, or the list.
"""

from __future__ import annotations

import asyncio
from html import escape
from typing import TYPE_CHECKING

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant.api.usage import KeyUsage, usage_by_key
from assistant.governance.api_keys import SCOPES, ApiKeyError, ApiKeyPublic
from assistant.governance.requester import token_from_scope
from assistant.identity import Principal
from assistant.ui.console import (
    CSP,
    DASHBOARD_PATH,
    STYLE,
    ConsoleRefusal,
    cross_site,
    refusal_page,
    signed_in_admin,
)
from assistant.ui.csrf import csrf_valid, hidden_field, signing_secret

if TYPE_CHECKING:
    from assistant.governance.component import Governance

KEYS_PATH = "/admin/api-keys"
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
TABLE_STYLE = (
    "table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;"
    "text-align:left;vertical-align:top}code.secret{font-size:1.05rem;word-break:break-all}"
)


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}{TABLE_STYLE}</style></head><body><header><h1>{escape(title)}</h1>"
        f'<p><a href="{DASHBOARD_PATH}">Dashboard</a> · <a href="{KEYS_PATH}">API keys</a></p>'
        f"</header><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, headers=HEADERS)


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else "never"


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
    return "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + f"<td>{revoke}</td></tr>"


def render_keys(
    keys: list[tuple[ApiKeyPublic, str]], usage: dict[str, KeyUsage], csrf_field: str, notice: str = ""
) -> str:
    head = (
        "<tr><th>Name</th><th>Key</th><th>Owner</th><th>Groups</th><th>Scopes</th><th>Status</th>"
        "<th>Created (UTC)</th><th>Last used</th><th>Requests</th><th>Refusals</th><th>Tokens</th>"
        "<th>Cost</th><th></th></tr>"
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


def _admin(request: Request, governance: Governance) -> Principal | HTMLResponse:
    try:
        return signed_in_admin(request, governance)
    except ConsoleRefusal as refusal:
        return refusal_page(refusal)


def _expired() -> HTMLResponse:
    return refusal_page(
        ConsoleRefusal(
            403,
            "This form has expired.",
            f'<p>Nothing was changed. <a href="{KEYS_PATH}">Reload the page</a> and try again.</p>',
        )
    )


def _listing(governance: Governance) -> tuple[list[tuple[ApiKeyPublic, str]], dict[str, KeyUsage]]:
    keys = []
    for key in governance.api_keys.list():
        owner = governance.accounts.get_user(username=key.owner)
        keys.append((key, ", ".join(sorted(owner.groups)) if owner else ""))
    return keys, usage_by_key(governance.engine)


def _optional_int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value else None


def keys_router(governance: Governance, *, allowed_origins: list[str]) -> APIRouter:
    router = APIRouter()

    def form_ok(request: Request, token: str) -> bool:
        session = token_from_scope(request.scope)
        return not cross_site(request, allowed_origins) and csrf_valid(token, session, signing_secret())

    async def listing_page(request: Request, notice: str = "") -> HTMLResponse:
        keys, usage = await asyncio.to_thread(_listing, governance)
        csrf_field = hidden_field(token_from_scope(request.scope))
        return _page("API keys", render_keys(keys, usage, csrf_field, notice))

    @router.get(KEYS_PATH, response_class=HTMLResponse)
    async def keys_page(request: Request) -> HTMLResponse:
        admin = _admin(request, governance)
        return admin if isinstance(admin, HTMLResponse) else await listing_page(request)

    @router.post(KEYS_PATH)
    async def create(request: Request) -> Response:
        admin = _admin(request, governance)
        if isinstance(admin, HTMLResponse):
            return admin
        form = await request.form()
        if not form_ok(request, str(form.get("csrf_token", ""))):
            return _expired()
        try:
            key, secret = await asyncio.to_thread(
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
        return created_page(key, secret)

    @router.post(KEYS_PATH + "/{prefix}/revoke")
    async def revoke(request: Request, prefix: str, csrf_token: str = Form("")) -> Response:
        admin = _admin(request, governance)
        if isinstance(admin, HTMLResponse):
            return admin
        if not form_ok(request, csrf_token):
            return _expired()
        try:
            await asyncio.to_thread(governance.api_keys.revoke, prefix=prefix)
        except ApiKeyError:
            return _page("No such key", f'<p>No API key {escape(prefix)}. <a href="{KEYS_PATH}">Back</a></p>')
        return RedirectResponse(KEYS_PATH, status_code=303)

    return router


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
