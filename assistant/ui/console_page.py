"""The frame every console page shares: head, styles, navigation, headers; the tier chip; and the
admin-only and form checks every console form repeats (signed-in admin, CSRF token, same site).

Server-rendered HTML under the console's Content-Security-Policy (no script, no external
resource). Callers pass already-escaped body HTML; this module escapes the title itself. It never
accepts a form without a valid CSRF token from the same site.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import HTMLResponse

from assistant.governance.requester import token_from_scope
from assistant.identity import Principal
from assistant.ui.console import (
    CONSOLE_NAV,
    CSP,
    STYLE,
    VIEWPORT,
    ConsoleRefusal,
    cross_site,
    refusal_page,
    signed_in_admin,
)
from assistant.ui.csrf import csrf_valid, signing_secret

if TYPE_CHECKING:
    from assistant.governance.component import Governance

HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
PAGE_STYLE = """
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}.wide{overflow-x:auto;max-width:100%}
.chip{display:inline-block;padding:0 .45em;border-radius:.6em;font-size:.85em;font-weight:600}
.tier-public{background:#dcfce7;color:#14532d}.tier-internal{background:#fef3c7;color:#78350f}
.tier-regulated{background:#e0e7ff;color:#312e81}.tier-regulated::before{content:"\\1F512  "}
.item{border:1px solid #ddd;border-radius:6px;padding:.5rem .75rem;margin:.75rem 0}
.item blockquote{margin:.25rem 0 .5rem;padding-left:.75rem;border-left:3px solid #ccc;white-space:pre-wrap}
fieldset{border:1px solid #ccc;border-radius:4px}
@media (prefers-color-scheme:dark){th,td,.item,fieldset{border-color:#444}
.tier-public{background:#14532d;color:#dcfce7}.tier-internal{background:#713f12;color:#fef3c7}
.tier-regulated{background:#312e81;color:#e0e7ff}}
"""


def tier_chip(tier: str) -> str:
    """The tier in words, coloured like the chat's badge (colour is never the only signal)."""
    known = tier if tier in ("public", "internal", "regulated") else "unknown"
    return f'<span class="chip tier-{known}">{escape(tier)}</span>'


def console_page(title: str, body: str, *, status: int = 200, style: str = "") -> HTMLResponse:
    """A whole console page; `style` adds the page's own rules after the shared ones."""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"{VIEWPORT}<style>{STYLE}{PAGE_STYLE}{style}</style></head><body><header><h1>{escape(title)}</h1>"
        f"{CONSOLE_NAV}</header><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def admin_or_refusal(request: Request, governance: Governance) -> Principal | HTMLResponse:
    """The signed-in admin, or the page to answer with instead (sign in / administrators only)."""
    try:
        return signed_in_admin(request, governance)
    except ConsoleRefusal as refusal:
        return refusal_page(refusal)


def form_accepted(request: Request, csrf_token: str, allowed_origins: list[str]) -> bool:
    """A console form may act: its CSRF token is this session's and no other site posted it."""
    session = token_from_scope(request.scope)
    return not cross_site(request, allowed_origins) and csrf_valid(csrf_token, session, signing_secret())


def expired_form(back_path: str) -> HTMLResponse:
    """The answer to a refused form: nothing changed, reload the page it came from."""
    return refusal_page(
        ConsoleRefusal(
            403,
            "This form has expired.",
            f'<p>Nothing was changed. <a href="{back_path}">Reload the page</a> and try again.</p>',
        )
    )


def admin_for_form(
    request: Request, governance: Governance, csrf_token: str, allowed_origins: list[str], back_path: str
) -> Principal | HTMLResponse:
    """The admin posting a console form, or the page to answer with instead (sign in,
    administrators only, or "this form has expired" for a missing/foreign token or another site)."""
    admin = admin_or_refusal(request, governance)
    if isinstance(admin, HTMLResponse) or form_accepted(request, csrf_token, allowed_origins):
        return admin
    return expired_form(back_path)
