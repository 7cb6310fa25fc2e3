"""Escalations to a human: low confidence, policy blocks, repeated failures or the user's request.

Opened by the pipeline with a thread reference, listed and resolved by admins in the dashboard.
Details are short descriptions written by the pipeline, never raw regulated text.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from assistant.governance.tables import EscalationRow, as_utc, utcnow

EscalationReason = Literal["low_confidence", "policy_block", "repeated_failures", "user_request"]
EscalationStatus = Literal["open", "resolved"]


class EscalationError(ValueError):
    pass


class Escalation(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    thread_id: str | None
    user_id: str
    reason: EscalationReason
    detail: str
    status: EscalationStatus
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None


def _public(row: EscalationRow) -> Escalation:
    data = row.model_dump()
    data["created_at"] = as_utc(row.created_at)
    data["resolved_at"] = as_utc(row.resolved_at) if row.resolved_at else None
    return Escalation(**data)


class Escalations:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def open(
        self, thread_id: str | None, user_id: str, reason: EscalationReason, detail: str = ""
    ) -> Escalation:
        row = EscalationRow(thread_id=thread_id, user_id=user_id, reason=reason, detail=detail[:2000])
        with Session(self._engine) as session:
            session.add(row)
            session.commit()
            session.refresh(row)
            return _public(row)

    def get(self, escalation_id: str) -> Escalation | None:
        with Session(self._engine) as session:
            row = session.get(EscalationRow, escalation_id)
            return _public(row) if row else None

    def list(
        self, *, status: EscalationStatus | None = "open", limit: int = 200
    ) -> builtins.list[Escalation]:
        with Session(self._engine) as session:
            query = select(EscalationRow).order_by(col(EscalationRow.created_at).desc()).limit(limit)
            if status is not None:
                query = query.where(EscalationRow.status == status)
            return [_public(row) for row in session.exec(query)]

    def list_open(self) -> builtins.list[Escalation]:
        return self.list(status="open")

    def resolve(self, escalation_id: str, *, admin: str, note: str = "") -> Escalation:
        with Session(self._engine) as session:
            row = session.get(EscalationRow, escalation_id)
            if row is None:
                raise EscalationError(f"no escalation {escalation_id!r}")
            if row.status != "resolved":
                row.status, row.resolved_at, row.resolved_by = "resolved", utcnow(), admin
                row.resolution_note = note[:2000]
                session.add(row)
                session.commit()
                session.refresh(row)
            return _public(row)

    def count_since(self, since: datetime) -> int:
        with Session(self._engine) as session:
            query = select(func.count()).select_from(EscalationRow)
            return int(session.exec(query.where(col(EscalationRow.created_at) >= as_utc(since))).one())
