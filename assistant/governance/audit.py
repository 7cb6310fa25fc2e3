"""The tamper-evident audit trail: one hash-chained record per model call and routing decision.

Each record's hash covers its content (including its sequence number) and the previous record's
hash; a head row names the last record, so editing, deleting (also the tail) or reordering any
record is detected by `verify()`. Raw request/response text lives in a separate table, kept only
as the retention policy says: the chain covers the text's sha256, never the text, so purging raw
text leaves the chain valid. This module never stores regulated raw text unless configured, and
never lets two writers append with the same predecessor.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from assistant.executors import run_background, run_io
from assistant.governance.settings import AuditSettings
from assistant.governance.tables import AuditHead, AuditRaw, AuditRow, as_utc, new_id, utcnow
from routing.routed import Outcome
from routing.routed import text_digest as sha256_text
from routing.tiers import Tier, highest

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# "api_key": an admin changed a key (its detail names the key by prefix, never its secret).
# "escalation_view": an admin read an escalated conversation (admin, escalation, thread; no text).
AuditKind = Literal[
    "model_call", "routing_decision", "turn", "api_request", "tool_call", "tool_loop", "api_key",
    "escalation_view",
]  # fmt: skip

# The fields the chain covers, in the order they are written to the canonical form.
CHAINED_FIELDS = (
    "seq", "id", "kind", "occurred_at", "user_id", "thread_id", "tier", "route", "model",
    "policy_version", "prompt_template_version", "document_ids", "prompt_tokens", "completion_tokens",
    "latency_ms", "ttft_ms", "cost_usd", "outcome", "schema_valid", "detail", "request_sha256",
    "response_sha256",
)  # fmt: skip


def estimate_cost(
    model: str | None,
    prompt_tokens: int,
    completion_tokens: int,
    prices_per_mtok: dict[str, tuple[float, float]],
) -> float:
    """USD for one call from per-model (input, output) prices per million tokens; unknown/local = 0."""
    price_in, price_out = prices_per_mtok.get(model or "", (0.0, 0.0))
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000


class AuditEvent(BaseModel):
    """What the pipeline reports; `record()` turns it into a chained `AuditRecord`."""

    model_config = ConfigDict(frozen=True)

    kind: AuditKind
    outcome: Outcome = "ok"
    user_id: str | None = None
    thread_id: str | None = None
    tier: str | None = None
    route: str | None = None
    model: str | None = None
    policy_version: str | None = None
    prompt_template_version: str | None = None
    document_ids: tuple[str, ...] = ()
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    latency_ms: float | None = Field(default=None, ge=0)
    ttft_ms: float | None = Field(default=None, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    schema_valid: bool | None = None
    # A short, non-sensitive note (an error class, a fallback reason); never raw text.
    detail: str | None = Field(default=None, max_length=500)
    # sha256 of the exact bytes sent / received; computed from the raw text when not given.
    request_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    response_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    request_text: str | None = None
    response_text: str | None = None
    occurred_at: datetime | None = None

    @model_validator(mode="after")
    def _hashes_match_text(self) -> AuditEvent:
        for text, digest, name in (
            (self.request_text, self.request_sha256, "request"),
            (self.response_text, self.response_sha256, "response"),
        ):
            if text is not None and digest is not None and sha256_text(text) != digest:
                raise ValueError(f"{name}_sha256 does not match {name}_text")
        return self


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    id: str
    kind: str
    occurred_at: datetime
    user_id: str | None
    thread_id: str | None
    tier: str | None
    route: str | None
    model: str | None
    policy_version: str | None
    prompt_template_version: str | None
    document_ids: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float | None
    ttft_ms: float | None
    cost_usd: float
    outcome: str
    schema_valid: bool | None
    detail: str | None
    request_sha256: str | None
    response_sha256: str | None
    prev_hash: str
    record_hash: str


class VerifyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    records: int
    first_bad_seq: int | None = None
    first_bad_id: str | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.records} records"
        where = f"record {self.first_bad_seq}" + (f" (id {self.first_bad_id})" if self.first_bad_id else "")
        return f"audit chain BROKEN at {where}: {self.problem}"


def _timestamp(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_content(row: AuditRow) -> str:
    content: dict[str, Any] = {name: getattr(row, name) for name in CHAINED_FIELDS}
    content["occurred_at"] = _timestamp(row.occurred_at)
    content["document_ids"] = list(row.document_ids or [])
    for name in ("latency_ms", "ttft_ms", "cost_usd"):
        content[name] = None if content[name] is None else float(content[name])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, row: AuditRow) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_content(row)}".encode()).hexdigest()


def to_record(row: AuditRow) -> AuditRecord:
    data = {name: getattr(row, name) for name in (*CHAINED_FIELDS, "prev_hash", "record_hash")}
    data["document_ids"] = tuple(row.document_ids or ())
    data["occurred_at"] = as_utc(row.occurred_at)
    return AuditRecord(**data)


class AuditTrail:
    """Append, verify, export and purge the audit trail."""

    def __init__(self, engine: Engine, settings: AuditSettings | None = None) -> None:
        self._engine = engine
        self._settings = settings or AuditSettings()
        # Serializes appends inside this process; the head-row UPDATE serializes processes.
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> AuditRecord:
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Append `events` in order, chained, in one transaction (one turn's records: one commit,
        one head update, so a turn is either wholly in the trail or not at all)."""
        if not events:
            return []
        now = utcnow()
        with self._lock, Session(self._engine) as session:
            # Taking the write lock first: SQLite's RESERVED lock, PostgreSQL's row lock on the head.
            session.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(touched_at=now))
            head = session.get(AuditHead, 1)
            if head is None:
                raise RuntimeError("audit_head row missing: run the database migrations")
            rows = []
            for event in events:
                row = self._row(event, seq=head.seq + 1, prev_hash=head.record_hash or GENESIS, now=now)
                session.add(row)
                raw = self._raw(event, row.seq, now)
                if raw is not None:
                    session.add(raw)
                head.seq, head.record_hash = row.seq, row.record_hash
                rows.append(row)
            session.add(head)
            # Read before the commit expires the rows (after it, each would be SELECTed again).
            records = [to_record(row) for row in rows]
            session.commit()
            return records

    async def arecord(self, event: AuditEvent) -> AuditRecord:
        """`record` off the event loop (the database write may wait for a lock)."""
        return await run_io(self.record, event)

    def _row(self, event: AuditEvent, *, seq: int, prev_hash: str, now: datetime) -> AuditRow:
        request_sha = event.request_sha256 or (
            sha256_text(event.request_text) if event.request_text else None
        )
        response_sha = event.response_sha256 or (
            sha256_text(event.response_text) if event.response_text is not None else None
        )
        row = AuditRow(
            seq=seq,
            id=new_id(),
            occurred_at=as_utc(event.occurred_at or now),
            document_ids=list(event.document_ids),
            request_sha256=request_sha,
            response_sha256=response_sha,
            prev_hash=prev_hash,
            record_hash="",
            **event.model_dump(
                exclude={
                    "document_ids", "request_sha256", "response_sha256", "request_text", "response_text",
                    "occurred_at",
                }
            ),
        )  # fmt: skip
        row.record_hash = chain_hash(prev_hash, row)
        return row

    def _raw(self, event: AuditEvent, seq: int, now: datetime) -> AuditRaw | None:
        if event.request_text is None and event.response_text is None:
            return None
        if self._settings.raw_text_retention_days <= 0:
            return None
        # An event without a tier counts as regulated: fail closed.
        tier = highest(event.tier) if event.tier is not None else Tier.REGULATED
        if tier is Tier.REGULATED and not self._settings.store_regulated_raw_text:
            return None
        return AuditRaw(
            seq=seq,
            request_text=event.request_text,
            response_text=event.response_text,
            purge_after=now + timedelta(days=self._settings.raw_text_retention_days),
        )

    # --- reading --------------------------------------------------------------------------------

    def records(self, *, since: datetime | None = None, limit: int | None = None) -> list[AuditRecord]:
        with Session(self._engine) as session:
            query = select(AuditRow).order_by(col(AuditRow.seq))
            if since is not None:
                query = query.where(col(AuditRow.occurred_at) >= as_utc(since))
            if limit is not None:
                query = query.limit(limit)
            return [to_record(row) for row in session.exec(query)]

    def raw_text(self, seq: int) -> tuple[str | None, str | None] | None:
        with Session(self._engine) as session:
            raw = session.get(AuditRaw, seq)
            return (raw.request_text, raw.response_text) if raw else None

    def export(
        self, since: datetime | None = None, fmt: Literal["jsonl"] = "jsonl", *, include_raw: bool = False
    ) -> Iterator[str]:
        """One JSON line per record, chain hashes included so an auditor can re-verify offline."""
        if fmt != "jsonl":
            raise ValueError(f"unsupported export format {fmt!r} (only jsonl)")
        for record in self.records(since=since):
            line: dict[str, Any] = record.model_dump(mode="json")
            if include_raw:
                raw = self.raw_text(record.seq)
                line["request_text"], line["response_text"] = raw if raw else (None, None)
            yield json.dumps(line, ensure_ascii=False, sort_keys=True)

    # --- verification -----------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Walk the chain from the first record; name the first record that does not check out."""
        with Session(self._engine) as session:
            prev_hash, expected, count = GENESIS, 1, 0
            rows = session.exec(select(AuditRow).order_by(col(AuditRow.seq)).execution_options(yield_per=500))
            for row in rows:
                problem = self._check(row, expected, prev_hash)
                if problem:
                    return VerifyResult(
                        ok=False, records=count, first_bad_seq=row.seq, first_bad_id=row.id, problem=problem
                    )
                prev_hash, expected, count = row.record_hash, row.seq + 1, count + 1
            head = session.get(AuditHead, 1)
            if head is None or head.seq != count or (head.record_hash or GENESIS) != prev_hash:
                last = head.seq if head else None
                return VerifyResult(
                    ok=False,
                    records=count,
                    first_bad_seq=count + 1 if head and head.seq > count else last,
                    problem=f"the chain ends at record {count} but its head says {last}: "
                    "records were removed from the end or the head was altered",
                )
            raw_problem = self._check_raw(session)
        return raw_problem or VerifyResult(ok=True, records=count)

    @staticmethod
    def _check(row: AuditRow, expected_seq: int, prev_hash: str) -> str | None:
        if row.seq != expected_seq:
            return f"records {expected_seq}..{row.seq - 1} are missing (deleted)"
        if row.prev_hash != prev_hash:
            return "its link to the previous record is wrong (records deleted or reordered)"
        if chain_hash(prev_hash, row) != row.record_hash:
            return "its content does not match its hash (the record was edited)"
        return None

    @staticmethod
    def _check_raw(session: Session) -> VerifyResult | None:
        pairs = session.exec(
            select(AuditRaw, AuditRow).join(AuditRow, col(AuditRow.seq) == col(AuditRaw.seq))
        ).all()
        for raw, row in pairs:
            for text, digest in (
                (raw.request_text, row.request_sha256),
                (raw.response_text, row.response_sha256),
            ):
                if text is not None and sha256_text(text) != digest:
                    return VerifyResult(
                        ok=False,
                        records=row.seq,
                        first_bad_seq=row.seq,
                        first_bad_id=row.id,
                        problem="its stored raw text does not match the hash in the chain",
                    )
        return None

    # --- retention --------------------------------------------------------------------------------

    def purge(self, now: datetime | None = None) -> int:
        """Delete raw text past its retention; hashes and the chain stay. Returns rows purged."""
        moment = as_utc(now or utcnow())
        with Session(self._engine) as session:
            result = session.execute(delete(AuditRaw).where(col(AuditRaw.purge_after) <= moment))
            session.commit()
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def start_purge_schedule(self, interval_s: float | None = None) -> asyncio.Task[None]:
        """An asyncio task applying retention every `interval_s` (default from settings); cancel to stop."""
        return asyncio.get_running_loop().create_task(
            self._purge_forever(interval_s or self._settings.purge_interval_s), name="audit-retention-purge"
        )

    async def _purge_forever(self, interval_s: float) -> None:
        while True:
            try:
                purged = await run_background(self.purge)
                if purged:
                    log.info("audit retention: purged raw text of %d records", purged)
            except Exception:  # a failed purge must not kill the schedule; it is retried next round
                log.exception("audit retention purge failed")
            await asyncio.sleep(interval_s)
