"""CSRF defence for the app's own HTML forms: a synchronizer token bound to the session.

The token is an HMAC of the visitor's Chainlit session token under the app's signing secret, so
only a page served to that session can carry it, it needs no server-side storage, and it dies
with the session. It does not depend on `Origin`/`Referer`: with `Referrer-Policy: no-referrer`
Chromium sends `Origin: null` on a same-site form POST, which an origin check must refuse.
Never accept a form POST that changes state without `csrf_valid` returning True.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

FIELD = "csrf_token"


def csrf_token(session_token: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), b"confidante-csrf:" + session_token.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def csrf_valid(submitted: str | None, session_token: str | None, secret: str | None) -> bool:
    """False for anything missing: no session, no secret or no token fails closed."""
    if not submitted or not session_token or not secret:
        return False
    return hmac.compare_digest(submitted, csrf_token(session_token, secret))


def signing_secret() -> str | None:
    """Chainlit's JWT secret (the one `confidante serve` generated or the settings gave)."""
    from chainlit.auth.jwt import get_jwt_secret

    return get_jwt_secret() or None


def hidden_field(session_token: str | None) -> str:
    """The `<input type=hidden>` for a form; empty when there is no session (the POST will fail)."""
    secret = signing_secret()
    if not session_token or not secret:
        return ""
    return f'<input type="hidden" name="{FIELD}" value="{csrf_token(session_token, secret)}">'
