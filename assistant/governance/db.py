"""The governance database: one SQLAlchemy engine from settings, migrated to head at start-up.

SQLite (a file in the data directory, WAL mode, foreign keys on, a busy timeout) by default;
PostgreSQL when `governance.database_url` names it. The schema only ever changes through the
Alembic revisions in `migrations/`: this module never calls `create_all`.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

from assistant.governance.settings import GovernanceSettings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _quiet_alembic_plugins() -> None:
    """Importing Alembic announces each of its autogenerate plugins at INFO: seven lines that
    pushed the first-run setup link up the terminal. Quieted before Alembic is first imported (it
    is imported only here, lazily); the migration's own lines stay."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def database_url(settings: GovernanceSettings, data_dir: Path) -> str:
    return settings.database_url or f"sqlite:///{data_dir / 'confidante.db'}"


def create_db_engine(settings: GovernanceSettings, data_dir: Path) -> Engine:
    """An engine for the configured database; SQLite connections get WAL, foreign keys and a timeout."""
    url = make_url(database_url(settings, data_dir))
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000},
    )
    busy_ms = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.close()

    return engine


def alembic_config() -> Config:
    """Alembic configured from the installed package, no alembic.ini needed."""
    _quiet_alembic_plugins()
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent; safe at every start-up)."""
    config = alembic_config()
    from alembic import command

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def open_database(settings: GovernanceSettings, data_dir: Path) -> Engine:
    """The engine the application uses: created and migrated to head."""
    engine = create_db_engine(settings, data_dir)
    migrate(engine)
    return engine
