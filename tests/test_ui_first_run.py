"""First run: the one-time setup link creates the first admin, once, and is dead afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.governance.component import Governance, build_governance
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from assistant.ui.first_run import (
    SETUP_PATH,
    TOKEN_FILE,
    first_run_router,
    issue_setup_token,
    setup_link,
    setup_token_valid,
)

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)


@pytest.fixture
def governance(tmp_path) -> Iterator[Governance]:
    gov = build_governance(GovernanceSettings(passwords=FAST), tmp_path)
    yield gov
    gov.close()


def _client(governance: Governance, data_dir, now=lambda: 1000.0) -> TestClient:
    app = FastAPI()
    app.include_router(first_run_router(governance.accounts, data_dir, now=now))
    return TestClient(app)


def _form(token: str, password: str = "first admin pw", confirm: str | None = None) -> dict[str, str]:
    return {"token": token, "username": "ada", "password": password, "confirm": confirm or password}


def test_only_the_tokens_hash_is_stored_and_it_expires(tmp_path):
    token = issue_setup_token(tmp_path, ttl_s=60, now=lambda: 1000.0)
    stored = (tmp_path / TOKEN_FILE).read_text()
    assert token not in stored and json.loads(stored)["expires_at"] == 1060.0
    assert (tmp_path / TOKEN_FILE).stat().st_mode & 0o077 == 0
    assert setup_token_valid(tmp_path, token, now=lambda: 1059.0)
    assert not setup_token_valid(tmp_path, token, now=lambda: 1060.0)
    # Another token of the same shape: its last character changed, whatever it was (a fixed "A"
    # left the token as it was when it already ended in "A", one run in sixteen).
    other = token[:-1] + ("B" if token[-1] != "B" else "C")
    assert not setup_token_valid(tmp_path, other, now=lambda: 1000.0)
    assert not setup_token_valid(tmp_path, "", now=lambda: 1000.0)


def test_the_link_creates_one_admin_then_is_dead(governance, tmp_path):
    link = setup_link(tmp_path, governance.accounts, host="0.0.0.0", port=8000)
    assert link is not None and link.startswith(f"http://127.0.0.1:8000{SETUP_PATH}?token=")
    token = link.split("token=", 1)[1]
    client = _client(governance, tmp_path, now=lambda: 0.0)
    page = client.get(SETUP_PATH, params={"token": token})
    assert page.status_code == 200 and "User name" in page.text and 'name="token"' in page.text
    mismatch = client.post(SETUP_PATH, data=_form(token, confirm="something else"))
    assert mismatch.status_code == 400 and "differ" in mismatch.text and not governance.accounts.list_users()
    created = client.post(SETUP_PATH, data=_form(token), follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/login"
    assert [(u.username, u.role) for u in governance.accounts.list_users()] == [("ada", "admin")]
    assert governance.accounts.authenticate("ada", "first admin pw") is not None
    # The same link again: dead, and nobody else is created.
    again = client.post(SETUP_PATH, data={**_form(token), "username": "eve"}, follow_redirects=False)
    assert again.status_code == 404 and "no longer valid" in again.text
    assert client.get(SETUP_PATH, params={"token": token}).status_code == 404
    assert len(governance.accounts.list_users()) == 1


def test_no_link_once_an_account_exists_and_no_account_without_a_token(governance, tmp_path):
    client = _client(governance, tmp_path)
    assert client.post(SETUP_PATH, data=_form("")).status_code == 404  # no link issued
    governance.accounts.add_user(username="root", password="root password", role="admin")
    issue_setup_token(tmp_path)  # a stale file from an earlier run
    assert setup_link(tmp_path, governance.accounts, host="127.0.0.1", port=8000) is None
    assert not (tmp_path / TOKEN_FILE).exists()


def test_an_expired_link_creates_nobody(governance, tmp_path):
    token = issue_setup_token(tmp_path, ttl_s=60, now=lambda: 1000.0)
    client = _client(governance, tmp_path, now=lambda: 2000.0)
    assert client.post(SETUP_PATH, data=_form(token)).status_code == 404
    assert not governance.accounts.list_users()
