"""Accounts and sign-in against a real migrated SQLite database (argon2 with cheap test parameters)."""

from __future__ import annotations

import pytest

from assistant.governance.accounts import AccountError, Accounts
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings, SingleSignOnSettings

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)


@pytest.fixture
def engine(data_dir):
    engine = open_database(GovernanceSettings(), data_dir)
    yield engine
    engine.dispose()


@pytest.fixture
def accounts(engine):
    accounts = Accounts(engine, FAST)
    accounts.add_user(username="Alice", password="correct horse", display_name="Alice A.", groups=["finance"])
    accounts.add_user(username="root", password="admin password", role="admin")
    return accounts


def test_right_password_signs_in_with_role_and_groups(accounts):
    principal = accounts.authenticate("alice", "correct horse")
    assert principal is not None
    assert principal.user_id == "alice" and principal.role == "user"
    assert principal.groups == frozenset({"finance"}) and principal.display_name == "Alice A."
    assert accounts.get_user(username="alice").last_login_at is not None
    assert accounts.authenticate("ROOT", "admin password").is_admin


def test_wrong_password_unknown_user_and_garbage_are_refused(accounts):
    assert accounts.authenticate("alice", "wrong horse") is None
    assert accounts.authenticate("nobody", "correct horse") is None
    assert accounts.authenticate("../etc", "x") is None
    assert accounts.authenticate("alice", "") is None


def test_disabled_user_is_refused_and_can_be_enabled(accounts):
    accounts.set_disabled(username="alice", disabled=True)
    assert accounts.authenticate("alice", "correct horse") is None
    assert accounts.principal(username="alice") is None
    accounts.set_disabled(username="alice", disabled=False)
    assert accounts.authenticate("alice", "correct horse") is not None


def test_sso_only_account_cannot_use_a_password(accounts):
    accounts.add_user(username="sso-user", password=None)
    assert accounts.authenticate("sso-user", "") is None
    assert accounts.authenticate("sso-user", "confidante-dummy-password") is None


def test_password_is_rehashed_when_parameters_change(engine, accounts):
    from sqlmodel import Session, select

    from assistant.governance.tables import User

    def stored() -> str:
        with Session(engine) as session:
            return session.exec(select(User.password_hash).where(User.username == "alice")).one()

    before = stored()
    stronger = Accounts(engine, PasswordHashSettings(time_cost=2, memory_cost_kib=128, parallelism=1))
    assert stronger.authenticate("alice", "correct horse") is not None
    after = stored()
    assert after != before and "t=2" in after and "m=128" in after
    assert accounts.authenticate("alice", "correct horse") is not None  # old parameters still verify


def test_duplicate_and_invalid_accounts_are_refused(accounts):
    with pytest.raises(AccountError, match="already exists"):
        accounts.add_user(username="ALICE", password="another one")
    with pytest.raises(AccountError, match="invalid username"):
        accounts.add_user(username="bad name", password="long enough")
    with pytest.raises(AccountError, match="too short"):
        accounts.add_user(username="bob", password="short")


def test_groups_and_memberships(accounts):
    accounts.add_group(name="HR", description="People team")
    accounts.add_member(group="hr", username="alice")
    assert accounts.get_user(username="alice").groups == ("finance", "hr")
    groups = {g.name: g for g in accounts.list_groups()}
    assert groups["hr"].members == ("alice",)
    accounts.remove_member(group="finance", username="alice")
    assert accounts.principal(username="alice").groups == frozenset({"hr"})
    with pytest.raises(AccountError):
        accounts.add_member(group="nope", username="alice")


def test_password_sign_in_returns_a_chainlit_user(accounts):
    from assistant.ui.sign_in import password_sign_in

    user = password_sign_in(accounts, "alice", "correct horse")
    assert user.identifier == "alice" and user.display_name == "Alice A."
    assert user.metadata["role"] == "user" and user.metadata["groups"] == ["finance"]
    assert password_sign_in(accounts, "alice", "nope") is None


def test_oauth_maps_onto_existing_accounts_and_creates_only_when_allowed(accounts):
    from chainlit.user import User as ChainlitUser

    from assistant.ui.sign_in import oauth_sign_in

    closed = SingleSignOnSettings()
    accounts.add_user(username="carol@example.com", password=None)
    known = oauth_sign_in(
        accounts, closed, "google", {"name": "Carol"}, ChainlitUser(identifier="Carol@example.com")
    )
    assert known.identifier == "carol@example.com" and known.metadata["provider"] == "google"
    stranger = ChainlitUser(identifier="dave@example.com")
    assert oauth_sign_in(accounts, closed, "google", {}, stranger) is None
    assert accounts.get_user(username="dave@example.com") is None
    opened = SingleSignOnSettings(create_users_on_first_sign_in=True, default_groups=["staff"])
    created = oauth_sign_in(accounts, opened, "google", {"name": "Dave"}, stranger)
    assert created.metadata["groups"] == ["staff"]
    assert accounts.get_user(username="dave@example.com").auth_provider == "google"
    accounts.set_disabled(username="dave@example.com", disabled=True)
    assert oauth_sign_in(accounts, opened, "google", {}, stranger) is None


def test_header_sign_in_only_from_a_trusted_proxy(accounts):
    from assistant.ui.sign_in import header_sign_in

    headers = {"X-Forwarded-User": "alice"}
    off = SingleSignOnSettings()
    assert header_sign_in(accounts, off, headers, client_host="127.0.0.1") is None
    on = SingleSignOnSettings(trusted_header="x-forwarded-user", trusted_proxies=["10.0.0.0/8"])
    assert header_sign_in(accounts, on, headers, client_host="192.168.1.5") is None
    assert header_sign_in(accounts, on, headers, client_host=None) is None
    assert header_sign_in(accounts, on, headers, client_host="10.1.2.3").identifier == "alice"
    assert header_sign_in(accounts, on, {"X-Forwarded-User": "mallory"}, client_host="10.1.2.3") is None
    accounts.set_disabled(username="alice", disabled=True)
    assert header_sign_in(accounts, on, headers, client_host="10.1.2.3") is None
