"""The governance schema: accounts, chat history, the audit trail, escalations and budgets.

Every table here is created by an Alembic migration (`assistant/governance/migrations`), never by
`create_all`, so SQLite and PostgreSQL deployments evolve the same way. A change here needs a new
migration revision. Nothing in this module opens a connection.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; everything we store is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- accounts -------------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    # The sign-in name; also the identity Chainlit, the audit trail and budgets use (Principal.user_id).
    username: str = Field(max_length=150, unique=True, index=True)
    display_name: str | None = Field(default=None, max_length=200)
    # None for accounts that only sign in through OAuth/OIDC or an SSO proxy.
    password_hash: str | None = Field(default=None, max_length=500)
    role: str = Field(default="user", max_length=16)
    disabled: bool = False
    auth_provider: str = Field(default="password", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class Group(SQLModel, table=True):
    __tablename__ = "groups"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=150, unique=True, index=True)
    description: str | None = Field(default=None, max_length=500)


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"

    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    group_id: int = Field(sa_column=Column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True))


# --- chat history (Chainlit data layer) -------------------------------------------------------


class ChatThread(SQLModel, table=True):
    __tablename__ = "chat_threads"

    id: str = Field(primary_key=True, max_length=64)
    # The owner's username: the only thing ownership checks compare.
    owner: str = Field(max_length=150, index=True)
    name: str | None = Field(default=None, max_length=500)
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON))
    meta: dict[str, Any] | None = Field(default=None, sa_column=Column("metadata", JSON))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class ChatStep(SQLModel, table=True):
    __tablename__ = "chat_steps"

    id: str = Field(primary_key=True, max_length=64)
    thread_id: str = Field(
        sa_column=Column(String(64), ForeignKey("chat_threads.id", ondelete="CASCADE"), index=True)
    )
    parent_id: str | None = Field(default=None, max_length=64)
    type: str = Field(default="", max_length=64)
    created_at: str = Field(default="", max_length=40)
    # The StepDict exactly as Chainlit gave it (minus feedback, which has its own table).
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ChatElement(SQLModel, table=True):
    __tablename__ = "chat_elements"

    id: str = Field(primary_key=True, max_length=64)
    thread_id: str = Field(
        sa_column=Column(String(64), ForeignKey("chat_threads.id", ondelete="CASCADE"), index=True)
    )
    for_id: str | None = Field(default=None, max_length=64)
    # Key inside our own file store (never a client-supplied path).
    object_key: str | None = Field(default=None, max_length=300)
    mime: str | None = Field(default=None, max_length=200)
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ChatFeedback(SQLModel, table=True):
    __tablename__ = "chat_feedback"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    step_id: str = Field(
        sa_column=Column(String(64), ForeignKey("chat_steps.id", ondelete="CASCADE"), unique=True)
    )
    thread_id: str = Field(max_length=64, index=True)
    owner: str = Field(max_length=150)
    value: int
    comment: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, index=True)


# --- audit trail --------------------------------------------------------------------------------


class AuditRow(SQLModel, table=True):
    """One hash-chained record. Raw text lives in `audit_raw` so purging it keeps the chain intact."""

    __tablename__ = "audit_records"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: str = Field(default_factory=new_id, max_length=36, unique=True)
    kind: str = Field(max_length=32)
    occurred_at: datetime = Field(index=True)
    user_id: str | None = Field(default=None, max_length=150, index=True)
    thread_id: str | None = Field(default=None, max_length=64)
    tier: str | None = Field(default=None, max_length=16)
    route: str | None = Field(default=None, max_length=32)
    model: str | None = Field(default=None, max_length=200)
    policy_version: str | None = Field(default=None, max_length=64)
    prompt_template_version: str | None = Field(default=None, max_length=64)
    document_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float | None = None
    ttft_ms: float | None = None
    cost_usd: float = 0.0
    outcome: str = Field(max_length=16)
    schema_valid: bool | None = None
    detail: str | None = Field(default=None, max_length=500)
    request_sha256: str | None = Field(default=None, max_length=64)
    response_sha256: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    record_hash: str = Field(max_length=64)


class AuditRaw(SQLModel, table=True):
    __tablename__ = "audit_raw"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    request_text: str | None = Field(default=None, sa_column=Column(Text))
    response_text: str | None = Field(default=None, sa_column=Column(Text))
    purge_after: datetime = Field(index=True)


class AuditHead(SQLModel, table=True):
    """The single row naming the chain's last record: deleting the tail is detected against it."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    record_hash: str = Field(default="", max_length=64)
    touched_at: datetime = Field(default_factory=utcnow)


# --- escalations and budgets ----------------------------------------------------------------------


class EscalationRow(SQLModel, table=True):
    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_status_created", "status", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    thread_id: str | None = Field(default=None, max_length=64)
    user_id: str = Field(max_length=150)
    reason: str = Field(max_length=32)
    detail: str = Field(default="", sa_column=Column(Text))
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=150)
    resolution_note: str | None = Field(default=None, sa_column=Column(Text))


class BudgetOverride(SQLModel, table=True):
    __tablename__ = "budget_overrides"

    user_id: str = Field(primary_key=True, max_length=150)
    daily_tokens: int | None = None
    daily_cost_usd: float | None = None
    set_by: str = Field(max_length=150)
    set_at: datetime = Field(default_factory=utcnow)


class DailyUsage(SQLModel, table=True):
    __tablename__ = "daily_usage"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=150)
    day: str = Field(max_length=10)  # YYYY-MM-DD in UTC
    tokens: int = 0
    cost_usd: float = 0.0


# --- API keys for other internal apps (assistant/api) ---------------------------------------------


class ApiKeyRow(SQLModel, table=True):
    """An API key: only its sha256 is stored; the secret is shown once, when it is created."""

    __tablename__ = "api_keys"

    # The public part of the key ("cfd_<prefix>_<secret>"): it names the key in the audit trail,
    # the metrics and the console, and finds the row without scanning hashes.
    prefix: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=150)
    # The account (a person or a service account) whose groups and budget the key acts with.
    owner: str = Field(max_length=150, index=True)
    secret_sha256: str = Field(max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    rate_per_minute: int = 60
    daily_tokens: int | None = None
    created_by: str = Field(max_length=150)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


# --- experiments (assistant/experiments) -----------------------------------------------------------


class ExperimentRow(SQLModel, table=True):
    """An A/B experiment on one capability; its variants as validated JSON (`ExperimentSpec`)."""

    __tablename__ = "experiments"

    id: str = Field(primary_key=True, max_length=40)
    capability: str = Field(max_length=32, index=True)
    description: str = Field(default="", max_length=500)
    variants: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    status: str = Field(default="running", max_length=16)
    created_by: str = Field(max_length=150)
    created_at: datetime = Field(default_factory=utcnow)
    stopped_at: datetime | None = None
    stopped_by: str | None = Field(default=None, max_length=150)


class ExperimentTurnRow(SQLModel, table=True):
    """The measured facts of one turn run under a variant: no text, only outcomes and numbers."""

    __tablename__ = "experiment_turns"
    __table_args__ = (Index("ix_experiment_turns_thread_started", "thread_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: str = Field(max_length=40, index=True)
    variant: str = Field(max_length=40)
    user_id: str = Field(max_length=150)
    thread_id: str = Field(max_length=64)
    replay: bool = False
    started_at: datetime
    ended_at: datetime
    outcome: str = Field(max_length=16)
    escalated: bool = False
    corrects_previous: bool = False
    # Answer support (knowledge.answer_support): None when no cited passage was checked.
    unsupported_sentences: int | None = None
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Migration 0007: model calls of the turn (tool rounds, summary steps); a summary's map steps
    # and how many of them are quoted sentences instead of model-written points. None: not recorded.
    model_calls: int | None = None
    map_steps: int | None = None
    quoted_steps: int | None = None
