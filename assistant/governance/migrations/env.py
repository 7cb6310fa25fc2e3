"""Alembic environment for the Confidante database.

`target_metadata` is the whole `SQLModel.metadata` after importing every module that defines
tables, so `alembic revision --autogenerate` sees all of them. Modules that do not exist yet are
skipped: a missing optional table module must never stop a migration.
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

TABLE_MODULES = (
    "assistant.governance.tables",
    "knowledge.registry",
    "knowledge.upload_jobs",
    "assistant.uploads.jobs",
)

for _module in TABLE_MODULES:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        # Only the module itself may be missing; a broken import inside it is a real error.
        if exc.name is None or not _module.startswith(exc.name):
            raise

target_metadata = SQLModel.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as fresh:
        _run(fresh)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
