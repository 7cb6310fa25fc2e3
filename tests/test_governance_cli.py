"""`confidante users|groups|audit` through click's CliRunner, on a real SQLite database."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from assistant.governance.audit import AuditEvent, AuditTrail
from assistant.governance.cli import COMMANDS
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings


@click.group()
def root() -> None:
    """Stands in for the `confidante` group the lead adds these commands to."""


for command in COMMANDS:
    root.add_command(command)


@pytest.fixture
def run(data_dir, monkeypatch):
    monkeypatch.setenv("CONFIDANTE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CONFIDANTE_GOVERNANCE__PASSWORDS__MEMORY_COST_KIB", "64")
    monkeypatch.setenv("CONFIDANTE_GOVERNANCE__PASSWORDS__TIME_COST", "1")
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(root, list(args), input=stdin)

    return invoke


@pytest.fixture
def engine(data_dir):
    engine = open_database(GovernanceSettings(), data_dir)
    yield engine
    engine.dispose()


def test_first_admin_and_users(run, engine):
    from assistant.governance.accounts import Accounts
    from assistant.governance.settings import PasswordHashSettings

    result = run("users", "add", "root", "--admin", "--password-stdin", stdin="a long password\n")
    assert result.exit_code == 0, result.output
    assert "created admin root" in result.output
    assert (
        run(
            "users",
            "add",
            "alice",
            "--group",
            "finance",
            "--group",
            "hr",
            "--password-stdin",
            stdin="alice password\n",
        ).exit_code
        == 0
    )
    users = json.loads(run("users", "list", "--json").output)
    assert [(u["username"], u["role"], u["groups"]) for u in users] == [
        ("alice", "user", ["finance", "hr"]),
        ("root", "admin", []),
    ]
    assert all("argon2" not in json.dumps(u) and "password_hash" not in u for u in users)
    accounts = Accounts(engine, PasswordHashSettings(memory_cost_kib=64, time_cost=1))
    assert accounts.authenticate("root", "a long password").is_admin
    assert run("users", "disable", "alice").exit_code == 0
    assert accounts.authenticate("alice", "alice password") is None
    assert "disabled" in run("users", "list").output
    assert run("users", "enable", "alice").exit_code == 0
    assert accounts.authenticate("alice", "alice password") is not None


def test_password_is_never_an_argument_and_needs_a_terminal_or_stdin(run):
    result = run("users", "add", "bob")
    assert result.exit_code != 0 and "--password-stdin" in result.output
    assert run("users", "add", "bob", "--password", "x").exit_code != 0
    assert run("users", "add", "bob", "--password-stdin", stdin="short\n").exit_code == 1
    assert run("users", "add", "bad name", "--no-password").exit_code == 1


def test_groups_commands(run):
    run("users", "add", "alice", "--no-password")
    assert run("groups", "add", "legal").exit_code == 0
    assert run("groups", "add-member", "legal", "alice").exit_code == 0
    assert json.loads(run("groups", "list", "--json").output)[0]["members"] == ["alice"]
    assert run("groups", "remove-member", "legal", "alice").exit_code == 0
    assert run("groups", "add-member", "nope", "alice").exit_code == 1


def test_set_budget(run):
    run("users", "add", "alice", "--no-password")
    result = run("users", "set-budget", "alice", "--daily-tokens", "900000", "--daily-cost", "25")
    assert result.exit_code == 0 and "900,000 tokens and $25.00" in result.output
    assert "500,000 tokens" in run("users", "set-budget", "alice", "--clear").output
    assert run("users", "set-budget", "nobody", "--daily-tokens", "1").exit_code == 1
    assert run("users", "set-budget", "alice").exit_code == 2


def test_audit_verify_fails_and_names_the_edited_record(run, engine):
    trail = AuditTrail(engine)
    records = [
        trail.record(AuditEvent(kind="model_call", user_id="alice", model="m", tier="public"))
        for _ in range(3)
    ]
    ok = run("audit", "verify")
    assert ok.exit_code == 0 and "intact: 3 records" in ok.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_records SET user_id = 'mallory' WHERE seq = 2"))
    bad = run("audit", "verify")
    assert bad.exit_code == 1
    assert "record 2" in bad.output and records[1].id in bad.output


def test_audit_export_and_purge(run, engine, tmp_path):
    trail = AuditTrail(engine)
    trail.record(AuditEvent(kind="routing_decision", user_id="alice", tier="public", route="hosted"))
    lines = run("audit", "export", "--since", "2000-01-01", "--format", "jsonl").output.strip().splitlines()
    assert json.loads(lines[0])["route"] == "hosted"
    out = tmp_path / "audit.jsonl"
    assert "exported 1 records" in run("audit", "export", "-o", str(out)).output
    assert len(out.read_text().splitlines()) == 1
    assert run("audit", "export", "--since", "yesterday").exit_code == 2
    assert "purged raw text of 0 records" in run("audit", "purge").output
