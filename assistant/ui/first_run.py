"""First run: a one-time setup link that creates the first administrator from the browser.

`confidante serve` on an accounts database with no users issues a random token (only its sha256
is stored, in the data directory, with an expiry) and prints a loopback link to `/setup`. The
page creates the first admin; after that, or once the token expires, the link is dead, and the
route refuses to create anyone as soon as any account exists. It must never create an account
without a valid, unexpired token, and never print or store the token anywhere but the console.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant.executors import run_interactive, run_io
from assistant.governance.accounts import MIN_PASSWORD_LENGTH, AccountError

if TYPE_CHECKING:
    from assistant.governance.accounts import Accounts
    from assistant.settings import Settings

SETUP_PATH = "/setup"
TOKEN_FILE = "first_run_setup.json"  # noqa: S105 (a file name; it holds only a hash)
DEFAULT_TTL_S = 24 * 3600
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "label{display:block;margin:.75rem 0 .25rem}"
    "input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}"
    "button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}.error{color:#b00020}"
    "@media (prefers-color-scheme:dark){body{background:#111;color:#eee}.error{color:#ff8a80}}"
)
Clock = Callable[[], float]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_setup_token(data_dir: Path, *, ttl_s: float = DEFAULT_TTL_S, now: Clock = time.time) -> str:
    """A new one-time token (replacing any earlier one); only its hash reaches the disk."""
    token = secrets.token_urlsafe(32)
    path = data_dir / TOKEN_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"sha256": _digest(token), "expires_at": now() + ttl_s}, handle)
    return token


def setup_token_valid(data_dir: Path, token: str | None, *, now: Clock = time.time) -> bool:
    if not token:
        return False
    try:
        stored = json.loads((data_dir / TOKEN_FILE).read_text())
        digest, expires_at = str(stored["sha256"]), float(stored["expires_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no link issued, or an unreadable one: fail closed
    return now() < expires_at and hmac.compare_digest(digest, _digest(token))


def retire_setup_token(data_dir: Path) -> None:
    (data_dir / TOKEN_FILE).unlink(missing_ok=True)


def setup_link(data_dir: Path, accounts: Accounts, *, host: str, port: int) -> str | None:
    """For `confidante serve`: a fresh link when no account exists yet, else None (and no token)."""
    if accounts.list_users():
        retire_setup_token(data_dir)
        return None
    token = issue_setup_token(data_dir)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}{SETUP_PATH}?token={token}"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width,initial-scale=1"><title>{escape(title)}</title><style>{STYLE}</style>'
        f"</head><body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}
    return HTMLResponse(html, status_code=status, headers=headers)


def _dead_link() -> HTMLResponse:
    return _page(
        "This setup link is no longer valid",
        "<p>The first administrator has already been created, or the link expired. "
        'Sign in on the <a href="/login">sign-in page</a>; an administrator can add accounts with '
        "<code>confidante users add</code>. To get a new link on an empty database, restart "
        "<code>confidante serve</code>.</p>",
        status=404,
    )


def _form(token: str, error: str = "", username: str = "") -> HTMLResponse:
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        "<p>Create the administrator account for this Confidante. You will sign in with it next; "
        "it can add other accounts and open the admin console.</p>"
        f'{alert}<form method="post" action="{SETUP_PATH}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f'<label for="username">User name</label><input id="username" name="username" required '
        f'autocomplete="username" value="{escape(username)}">'
        f'<label for="password">Password (at least {MIN_PASSWORD_LENGTH} characters)</label>'
        f'<input id="password" name="password" type="password" required minlength="{MIN_PASSWORD_LENGTH}" '
        'autocomplete="new-password"><label for="confirm">Password again</label>'
        '<input id="confirm" name="confirm" type="password" required autocomplete="new-password">'
        '<button type="submit">Create administrator</button></form>'
    )
    return _page("Set up Confidante", body, status=400 if error else 200)


def first_run_router(accounts: Accounts, data_dir: Path, *, now: Clock = time.time) -> APIRouter:
    router = APIRouter()
    lock = asyncio.Lock()  # two tabs posting at once still create one admin

    async def usable(token: str | None) -> bool:
        has_users = bool(await run_io(accounts.list_users))
        return not has_users and setup_token_valid(data_dir, token, now=now)

    @router.get(SETUP_PATH, response_class=HTMLResponse)
    async def setup_page(token: str = "") -> HTMLResponse:
        return _form(token) if await usable(token) else _dead_link()

    @router.post(SETUP_PATH)
    async def create_admin(
        request: Request,
        token: str = Form(""),
        username: str = Form(""),
        password: str = Form(""),
        confirm: str = Form(""),
    ) -> Response:
        async with lock:
            if not await usable(token):
                return _dead_link()
            if password != confirm:
                return _form(token, "The two passwords differ.", username)
            try:
                await run_interactive(accounts.add_user, username=username, password=password, role="admin")
            except AccountError as exc:
                return _form(token, f"Could not create the account: {exc}.", username)
            retire_setup_token(data_dir)
        return RedirectResponse("/login", status_code=303)

    return router


def mount_first_run(app: object, accounts: Accounts, data_dir: Path) -> None:
    """Add `/setup` ahead of Chainlit's catch-all `GET /{full_path:path}` (else never reached)."""
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    before = list(app.router.routes)
    app.include_router(first_run_router(accounts, data_dir))
    added = [route for route in app.router.routes if route not in before]
    app.router.routes[:] = added + before


def announce_setup_link(settings: Settings, *, host: str, port: int) -> str | None:
    """For `confidante serve`, before the server starts: print the link when no account exists."""
    from assistant.governance.accounts import Accounts
    from assistant.governance.db import open_database

    try:
        engine = open_database(settings.governance, settings.data_dir)
    except Exception as exc:  # the server reports its database itself; no link without one
        print(f"confidante: could not check for accounts ({type(exc).__name__}); no setup link", flush=True)
        return None
    try:
        link = setup_link(
            settings.data_dir, Accounts(engine, settings.governance.passwords), host=host, port=port
        )
    finally:
        engine.dispose()
    if link:
        print(
            "\nNo account exists yet. Open this one-time link to create the administrator "
            f"(it works once, for 24 hours):\n\n    {link}\n",
            flush=True,
        )
    return link
