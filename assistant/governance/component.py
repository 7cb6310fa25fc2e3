"""Everything governance offers the application, built once from settings.

`build_governance(settings)` opens (and migrates) the database and wires accounts, chat history,
the audit trail, escalations, budgets and telemetry to it. It loads no models and starts no
background task: the caller starts the retention schedule when its event loop runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from assistant.governance.accounts import Accounts
from assistant.governance.api_keys import ApiKeys
from assistant.governance.audit import AuditTrail
from assistant.governance.budgets import Budgets
from assistant.governance.chat_history import ChatHistory
from assistant.governance.db import open_database
from assistant.governance.escalations import Escalations
from assistant.governance.settings import GovernanceSettings
from assistant.governance.telemetry import Telemetry


@dataclass(frozen=True)
class Governance:
    settings: GovernanceSettings
    engine: Engine
    files_dir: Path
    accounts: Accounts
    history: ChatHistory
    audit: AuditTrail
    escalations: Escalations
    budgets: Budgets
    telemetry: Telemetry
    api_keys: ApiKeys

    def close(self) -> None:
        self.telemetry.shutdown()
        self.engine.dispose()


def build_governance(
    settings: GovernanceSettings, data_dir: Path, *, telemetry: Telemetry | None = None
) -> Governance:
    engine = open_database(settings, data_dir)
    accounts = Accounts(engine, settings.passwords)
    return Governance(
        settings=settings,
        engine=engine,
        files_dir=settings.files_dir or data_dir / "files",
        accounts=accounts,
        history=ChatHistory(engine),
        audit=AuditTrail(engine, settings.audit),
        escalations=Escalations(engine),
        budgets=Budgets(engine, settings.budgets),
        telemetry=telemetry or Telemetry(settings.telemetry),
        api_keys=ApiKeys(engine, accounts),
    )
