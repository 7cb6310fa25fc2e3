"""The frame every console page shares: head, styles, navigation, headers; and the tier chip.

Server-rendered HTML under the console's Content-Security-Policy (no script, no external
resource). Callers pass already-escaped body HTML; this module escapes the title itself.
"""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from assistant.ui.console import CONSOLE_NAV, CSP, STYLE, VIEWPORT

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


def console_page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"{VIEWPORT}<style>{STYLE}{PAGE_STYLE}</style></head><body><header><h1>{escape(title)}</h1>"
        f"{CONSOLE_NAV}</header><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)
