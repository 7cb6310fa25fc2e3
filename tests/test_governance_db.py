"""The database: migrations to head on SQLite and PostgreSQL, pragmas, and models matching migrations."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import assistant.governance.tables  # noqa: F401  (registers the tables)
from assistant.governance.db import alembic_config, create_db_engine, current_revision, migrate, open_database
from assistant.governance.settings import GovernanceSettings
from tests.postgres import any_database_url, postgres_server, postgres_url  # noqa: F401

GOVERNANCE_TABLES = {
    "users", "groups", "memberships", "chat_threads", "chat_steps", "chat_elements", "chat_feedback",
    "audit_records", "audit_raw", "audit_head", "escalations", "budget_overrides", "daily_usage",
}  # fmt: skip


def test_sqlite_default_file_and_pragmas(data_dir):
    engine = open_database(GovernanceSettings(), data_dir)
    assert (data_dir / "confidante.db").is_file()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    engine.dispose()


def test_migrates_to_head_idempotently(any_database_url, data_dir):  # noqa: F811
    settings = GovernanceSettings(database_url=any_database_url)
    engine = create_db_engine(settings, data_dir)
    assert current_revision(engine) is None
    migrate(engine)
    migrate(engine)  # a second start-up changes nothing
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head
    assert GOVERNANCE_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_match_the_migrations(any_database_url, data_dir):  # noqa: F811
    """A table or column changed without a new revision shows up here as a difference."""
    engine = open_database(GovernanceSettings(database_url=any_database_url), data_dir)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, SQLModel.metadata)

    def table_of(diff) -> str | None:
        for part in diff if isinstance(diff, list) else [diff]:
            for item in part[1:] if isinstance(part, tuple) else []:
                name = getattr(item, "name", None) if not hasattr(item, "table") else item.table.name
                if name:
                    return name
        return None

    ours = [d for d in diffs if table_of(d) in GOVERNANCE_TABLES]
    assert ours == []
    engine.dispose()


def test_foreign_keys_cascade_thread_deletion(data_dir):
    from sqlmodel import Session

    from assistant.governance.tables import ChatStep, ChatThread

    engine = open_database(GovernanceSettings(), data_dir)
    with Session(engine) as session:
        session.add(ChatThread(id="t", owner="alice"))
        session.commit()
        session.add(ChatStep(id="s", thread_id="t"))
        session.commit()
        session.delete(session.get(ChatThread, "t"))
        session.commit()
        assert session.get(ChatStep, "s") is None
    with pytest.raises(Exception), Session(engine) as session:  # a step needs an existing thread
        session.add(ChatStep(id="orphan", thread_id="missing"))
        session.commit()
    engine.dispose()


def test_env_py_targets_all_table_modules():
    from pathlib import Path

    env = (Path(__file__).resolve().parent.parent / "assistant/governance/migrations/env.py").read_text()
    assert "SQLModel.metadata" in env and "knowledge.registry" in env
