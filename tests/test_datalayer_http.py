"""Chainlit's own HTTP endpoints on top of our data layer: B is denied A's ids, exactly like missing ids."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from assistant.governance.component import build_governance
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from assistant.ui.console import mount_governance_routes
from assistant.ui.datalayer import data_layer_for

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)


@pytest.fixture
def client(data_dir, monkeypatch):
    import chainlit.data
    from chainlit.config import config
    from chainlit.server import router as chainlit_router

    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "test-secret-for-http-isolation-0123456789")
    gov = build_governance(GovernanceSettings(passwords=FAST), data_dir)
    for name in ("alice", "bob"):
        gov.accounts.add_user(username=name, password=f"{name} password")
    gov.history.upsert_thread("tA", "alice", name="Alice's thread")
    gov.history.upsert_step(
        {"id": "sA", "threadId": "tA", "type": "assistant_message", "output": "x"}, "alice"
    )
    monkeypatch.setattr(chainlit.data, "_data_layer", data_layer_for(gov))
    monkeypatch.setattr(chainlit.data, "_data_layer_initialized", True)
    monkeypatch.setattr(
        config.code, "password_auth_callback", lambda username, password: None
    )  # sign-in required
    app = FastAPI()
    mount_governance_routes(app, gov, account_cache_s=0)
    app.include_router(chainlit_router)
    with TestClient(app) as test_client:
        yield test_client
    gov.close()


def cookie(username: str) -> dict[str, str]:
    from chainlit.auth import create_jwt
    from chainlit.user import User

    return {"access_token": create_jwt(User(identifier=username))}


def test_owner_reads_her_thread(client):
    response = client.get("/project/thread/tA", cookies=cookie("alice"))
    assert response.status_code == 200 and response.json()["steps"][0]["id"] == "sA"


def test_other_user_gets_the_same_answers_as_for_missing_ids(client):
    bob = cookie("bob")
    pairs = [
        (client.get("/project/thread/tA", cookies=bob), client.get("/project/thread/nope", cookies=bob)),
        (client.get("/project/share/tA", cookies=bob), client.get("/project/share/nope", cookies=bob)),
        (
            client.get("/project/thread/tA/element/e1", cookies=bob),
            client.get("/project/thread/nope/element/e1", cookies=bob),
        ),
        (
            client.request("DELETE", "/project/thread", cookies=bob, json={"threadId": "tA"}),
            client.request("DELETE", "/project/thread", cookies=bob, json={"threadId": "nope"}),
        ),
        (
            client.put("/project/thread", cookies=bob, json={"threadId": "tA", "name": "x"}),
            client.put("/project/thread", cookies=bob, json={"threadId": "nope", "name": "x"}),
        ),
        (
            client.put(
                "/feedback", cookies=bob, json={"feedback": {"forId": "sA", "value": 0}, "sessionId": "s"}
            ),
            client.put(
                "/feedback", cookies=bob, json={"feedback": {"forId": "nope", "value": 0}, "sessionId": "s"}
            ),
        ),
    ]
    for real, missing in pairs:
        assert real.status_code == missing.status_code and real.status_code >= 400
        assert real.text == missing.text
    listing = client.post("/project/threads", cookies=bob, json={"pagination": {"first": 10}, "filter": {}})
    assert listing.status_code == 200 and listing.json()["data"] == []
    # Alice's thread is untouched.
    thread = client.get("/project/thread/tA", cookies=cookie("alice")).json()
    assert thread["name"] == "Alice's thread" and thread["steps"][0].get("feedback") is None
