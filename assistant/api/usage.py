"""Usage of the API split by key, read from the audit trail (the one record of what happened).

Requests and refusals come from the `api_request` records (their detail names the key and the
HTTP status); tokens and cost from the `model_call` records of the key's turns, whose thread ids
are `api-<prefix>-…`. Read-only: it never writes, and it never reads raw text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.governance.tables import AuditRow

_DETAIL = re.compile(r"^key=(?P<prefix>[a-z0-9]{10}) status=(?P<status>\d{3})")
_THREAD = re.compile(r"^api-(?P<prefix>[a-z0-9]{10})-")


@dataclass
class KeyUsage:
    """One key's figures over the whole trail."""

    prefix: str
    requests: int = 0
    refusals: int = 0  # answered with an error status (4xx/5xx) after the key was recognized
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_by_key(engine: Engine) -> dict[str, KeyUsage]:
    """Every key that appears in the trail, by prefix."""
    found: dict[str, KeyUsage] = {}
    with Session(engine) as session:
        requests = session.exec(select(AuditRow.detail).where(AuditRow.kind == "api_request"))
        for detail in requests:
            match = _DETAIL.match(detail or "")
            if match is None:
                continue
            usage = found.setdefault(match["prefix"], KeyUsage(match["prefix"]))
            usage.requests += 1
            usage.refusals += int(match["status"]) >= 400
        calls = session.exec(
            select(AuditRow.thread_id, AuditRow.prompt_tokens, AuditRow.completion_tokens, AuditRow.cost_usd)
            .where(AuditRow.kind == "model_call")
            .where(col(AuditRow.thread_id).like("api-%"))
        )
        for thread_id, prompt, completion, cost in calls:
            match = _THREAD.match(thread_id or "")
            if match is None:
                continue
            usage = found.setdefault(match["prefix"], KeyUsage(match["prefix"]))
            usage.prompt_tokens += prompt
            usage.completion_tokens += completion
            usage.cost_usd += cost
    return found
