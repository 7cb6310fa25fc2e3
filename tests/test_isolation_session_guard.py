"""`SessionGuard` / `SessionRouteGuard`: Chainlit's session-naming routes answer someone else's
live session exactly like a missing one, and an account's alias for a colliding id reaches its own
session. Fast logic tests on a tiny ASGI app with real Chainlit sessions and signed tokens; the
full matrix against the running app is `tests/browser/test_isolation.py`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.testclient import TestClient

from assistant.ui.session_guard import SessionGuard, SessionRouteGuard

SECRET = "test-secret-for-session-guard-0123456789abcdef"


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from chainlit.session import WebsocketSession, ws_sessions_id
    from chainlit.user import User

    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", SECRET)
    made = {}
    for name in ("alice", "bob"):
        made[name] = WebsocketSession(
            id=f"session-of-{name}",
            socket_id=f"socket-of-{name}",
            emit=lambda *a, **k: None,
            emit_call=lambda *a, **k: None,
            user_env={},
            client_type="webapp",
            user=User(identifier=name),
            token=None,
            chat_profile=None,
            thread_id=None,
        )
    yield made
    for session in made.values():
        ws_sessions_id.pop(session.id, None)  # type: ignore[attr-defined]


def echo_app(guard: SessionGuard) -> TestClient:
    app = FastAPI()

    @app.post("/project/action")
    async def action(request: Request) -> dict[str, Any]:
        return {"body": (await request.body()).decode()}

    @app.post("/project/file")
    async def upload(session_id: str) -> dict[str, str]:
        return {"session_id": session_id}

    @app.get("/project/file/{file_id}")
    async def download(file_id: str, session_id: str) -> dict[str, str]:
        return {"file": file_id, "session_id": session_id}

    app.add_middleware(SessionRouteGuard, guard=guard)
    return TestClient(app)


def cookie(username: str) -> dict[str, str]:
    from chainlit.auth import create_jwt
    from chainlit.user import User

    return {"access_token": create_jwt(User(identifier=username))}


def test_owner_passes_with_the_body_intact(sessions: dict[str, Any]) -> None:
    client = echo_app(SessionGuard())
    payload = {"sessionId": "session-of-alice", "action": {"name": "x", "payload": {"a": "é"}}}
    response = client.post("/project/action", json=payload, cookies=cookie("alice"))
    assert response.status_code == 200
    assert json.loads(response.json()["body"]) == payload


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("POST", "/project/action", None, {"sessionId": "SID", "action": {}}),
        ("POST", "/project/file", {"session_id": "SID"}, None),
        ("GET", "/project/file/f1", {"session_id": "SID"}, None),
    ],
)
def test_someone_elses_session_is_answered_like_a_missing_one(
    sessions: dict[str, Any], method: str, path: str, params: dict[str, str] | None, body: dict | None
) -> None:
    client = echo_app(SessionGuard())

    def call(session_id: str, who: str) -> tuple[int, str]:
        q = {k: v.replace("SID", session_id) for k, v in (params or {}).items()}
        j = json.loads(json.dumps(body).replace("SID", session_id)) if body else None
        r = client.request(method, path, params=q, json=j, cookies=cookie(who))
        return r.status_code, r.text

    foreign = call("session-of-alice", "bob")
    missing = call("no-such-session", "bob")
    anonymous = call("session-of-alice", "nobody-signed")
    assert foreign == missing == anonymous == (404, '{"detail":"Session not found"}')
    assert call("session-of-alice", "alice")[0] == 200


def test_an_alias_for_a_colliding_id_reaches_the_accounts_own_session(sessions: dict[str, Any]) -> None:
    from chainlit.session import ws_sessions_id

    guard = SessionGuard()
    assert guard.session_for_connect("alice", "session-of-alice") == "session-of-alice"
    alias = guard.session_for_connect("bob", "session-of-alice")
    assert alias not in ("session-of-alice", "session-of-bob")
    ws_sessions_id[alias] = sessions["bob"]  # Chainlit created bob's session under the alias
    try:
        assert guard.session_for_connect("bob", "session-of-alice") == alias  # a reconnect finds it
        assert guard.resolve("bob", "session-of-alice") == alias
        client = echo_app(guard)
        response = client.post(
            "/project/file", params={"session_id": "session-of-alice"}, cookies=cookie("bob")
        )
        assert response.json() == {"session_id": alias}
        # Alice is not affected by bob's alias.
        response = client.post(
            "/project/file", params={"session_id": "session-of-alice"}, cookies=cookie("alice")
        )
        assert response.json() == {"session_id": "session-of-alice"}
    finally:
        ws_sessions_id.pop(alias, None)
    # Once bob's aliased session has ended, the alias means nothing: the id is alice's again.
    assert guard.resolve("bob", "session-of-alice") is None


def test_other_routes_and_non_json_bodies_pass_untouched(sessions: dict[str, Any]) -> None:
    client = echo_app(SessionGuard())
    response = client.post(
        "/project/action", content=b"not json", headers={"content-type": "text/plain"}, cookies=cookie("bob")
    )
    assert response.status_code == 200 and response.json()["body"] == "not json"
    assert client.get("/elsewhere", cookies=cookie("bob")).status_code == 404  # the app's own 404
