"""The admin console's routes on a real uvicorn server on loopback, for tests.

One place for what the console tests share: a FastAPI app with Chainlit's catch-all stand-in and
`mount_governance_routes`, served on a free port in a thread, with Chainlit's JWT secret set for
the server's life (and restored after), plus a session cookie signed with that secret.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from assistant.governance.component import Governance
from assistant.ui.console import mount_governance_routes


@contextmanager
def console_server(governance: Governance, name: str) -> Iterator[str]:
    """The console's base URL; `name` makes the JWT secret this server's own."""
    previous = os.environ.get("CHAINLIT_AUTH_SECRET")
    os.environ["CHAINLIT_AUTH_SECRET"] = f"test-secret-for-{name}-0123456789abcdef"
    app = FastAPI()
    app.get("/{full_path:path}")(lambda full_path: HTMLResponse("chainlit frontend"))  # Chainlit's catch-all
    mount_governance_routes(app, governance, allowed_origins=[], account_cache_s=0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if previous is None:
            os.environ.pop("CHAINLIT_AUTH_SECRET", None)
        else:
            os.environ["CHAINLIT_AUTH_SECRET"] = previous


def session_cookie(username: str, *, metadata: dict[str, Any] | None = None) -> dict[str, str]:
    """A Chainlit session for `username`; the token claims admin unless `metadata` says otherwise
    (the console checks the account's role in the database, never the claim)."""
    from chainlit.auth import create_jwt
    from chainlit.user import User

    claims = {"role": "admin"} if metadata is None else metadata
    return {"access_token": create_jwt(User(identifier=username, metadata=claims))}
