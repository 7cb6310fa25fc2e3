"""Settings for the database, accounts, the audit trail, retention and budgets."""

from __future__ import annotations

from pydantic import BaseModel


class GovernanceSettings(BaseModel):
    # SQLAlchemy URL; empty means a SQLite file in the data directory.
    database_url: str | None = None
