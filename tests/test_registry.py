"""The document registry's table comes from the app's migrations only; it never creates one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from assistant.cli import main
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from knowledge.cli import docs
from knowledge.registry import DocumentRegistry, RegistryMissing


def test_a_database_without_the_migrations_is_refused_not_patched(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    with pytest.raises(RegistryMissing, match="0003_knowledge_registry"):
        DocumentRegistry(engine)
    assert not inspect(engine).has_table("knowledge_document")


def test_the_migrated_database_has_the_registry(tmp_path: Path) -> None:
    registry = DocumentRegistry(open_database(GovernanceSettings(), tmp_path))
    assert registry.list_committed() == []


def test_the_knowledge_commands_open_the_apps_migrated_database(tmp_path: Path) -> None:
    env = {"CONFIDANTE_DATA_DIR": str(tmp_path), "CONFIDANTE_CONFIG": str(tmp_path / "absent.toml")}
    listed = CliRunner().invoke(main, ["docs", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert listed.output.strip() == "[]"
    alone = CliRunner().invoke(docs, ["list"], env=env)
    assert alone.exit_code != 0 and "through `confidante`" in alone.output
