"""`confidante keys expire` through click's CliRunner on a real SQLite database: set and clear a
key's expiry, audited like the admin page; a past date, a revoked key or both flags refused."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner, Result

from assistant.api.cli import keys
from assistant.governance.audit import AuditTrail
from assistant.governance.cli import COMMANDS
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings


@click.group()
def root() -> None:
    """Stands in for the `confidante` group."""


for command in (*COMMANDS, keys):
    root.add_command(command)


@pytest.fixture
def run(data_dir, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONFIDANTE_DATA_DIR", str(data_dir))
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(root, list(args))

    assert invoke("users", "add", "svc", "--no-password").exit_code == 0
    return invoke


def _prefix(run) -> str:  # type: ignore[no-untyped-def]
    created = run("keys", "create", "svc", "--name", "reports")
    assert created.exit_code == 0, created.output
    found = re.search(r"cfd_([a-z0-9]{10})_", created.output)
    assert found is not None
    return found.group(1)


def _expiry_details(data_dir) -> list[str]:  # type: ignore[no-untyped-def]
    engine = open_database(GovernanceSettings(), data_dir)
    try:
        records = AuditTrail(engine, GovernanceSettings().audit).records()
    finally:
        engine.dispose()
    return [r.detail or "" for r in records if r.kind == "api_key"]


def test_expiry_is_set_and_cleared_and_audited(run, data_dir) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix(run)
    set_ = run("keys", "expire", prefix, "--on", "2999-01-31")
    assert set_.exit_code == 0 and "expires=2999-01-31" in set_.output, set_.output
    cleared = run("keys", "expire", prefix, "--never")
    assert cleared.exit_code == 0 and "expires=never" in cleared.output
    assert _expiry_details(data_dir) == [
        f"key={prefix} expiry=2999-01-31T00:00Z",
        f"key={prefix} expiry=never",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--on", "2001-01-01"), "must be in the future"),
        (("--on", "2999-01-31", "--never"), "exactly one of"),
        ((), "exactly one of"),
    ],
)
def test_a_bad_expiry_is_refused_and_changes_nothing(run, data_dir, args, message) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix(run)
    refused = run("keys", "expire", prefix, *args)
    assert refused.exit_code != 0 and message in refused.output
    assert "expires=never" in run("keys", "list").output and _expiry_details(data_dir) == []


def test_a_revoked_key_keeps_no_expiry_change(run, data_dir) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix(run)
    assert run("keys", "revoke", prefix).exit_code == 0
    refused = run("keys", "expire", prefix, "--never")
    assert refused.exit_code != 0 and "revoked" in refused.output and _expiry_details(data_dir) == []
