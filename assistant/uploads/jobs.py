"""Summary jobs persisted in the app's database, so they survive a closed tab and a restart.

One `UploadJob` row per uploaded document: who owns it, which chat thread it belongs to, where it
is (`queued → running → done | failed | cancelled`), its progress, the map results finished so far
(so a restarted app resumes instead of starting over), the summary or the error. `JobStore` is the
only code that writes these rows; claiming a job is one conditional UPDATE, so two workers (or two
processes on PostgreSQL) never run the same job. The table is created by the Alembic revision
`0003_upload_jobs`; this module never calls `create_all` outside tests.
It never stores document text in a row: only points already written for the summary.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Engine, Text, update
from sqlmodel import Field, Session, SQLModel, col, select

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: tuple[JobStatus, ...] = ("done", "failed", "cancelled")
# The progress label of an ended job whose result a replica has shown (see `claim_announcement`).
ANNOUNCED = "result shown"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive; everything stored here is UTC.
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UploadJob(SQLModel, table=True):
    __tablename__ = "upload_jobs"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True, max_length=32)
    owner: str = Field(max_length=150, index=True)
    thread_id: str = Field(max_length=64, index=True)
    document_id: str | None = Field(default=None, max_length=64)
    display_name: str = Field(max_length=200)
    page_count: int | None = None
    tier: str = Field(default="regulated", max_length=16)
    status: str = Field(default="queued", max_length=16, index=True)
    progress_done: int = 0
    progress_total: int = 0
    progress_label: str = Field(default="waiting to start", max_length=200)
    result_summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(default=None, max_length=500)
    # Finished map steps (JSON list), so a resumed job skips them.
    steps_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    attempts: int = 0
    cancel_requested: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime | None = None


class JobView(BaseModel):
    """A read-only snapshot of a job, handed to the UI and to tests."""

    model_config = ConfigDict(frozen=True)

    id: str
    owner: str
    thread_id: str
    document_id: str | None
    display_name: str
    page_count: int | None
    tier: str
    status: JobStatus
    progress_done: int
    progress_total: int
    progress_label: str
    result_summary: str | None
    error: str | None
    attempts: int
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    heartbeat_at: datetime | None

    @classmethod
    def of(cls, row: UploadJob) -> JobView:
        data = row.model_dump(exclude={"steps_json"})
        for key in ("created_at", "updated_at", "heartbeat_at"):
            data[key] = _utc(data[key])
        return cls(**data)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def progress_text(self) -> str:
        if self.progress_total:
            return f"{self.progress_label} ({self.progress_done}/{self.progress_total})"
        return self.progress_label


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, *, owner: str, thread_id: str, display_name: str, tier: str, page_count: int | None, total: int
    ) -> JobView:
        row = UploadJob(
            owner=owner,
            thread_id=thread_id,
            display_name=display_name,
            tier=tier,
            page_count=page_count,
            progress_total=total,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
            return JobView.of(row)

    def get(self, job_id: str) -> JobView | None:
        with Session(self.engine) as session:
            row = session.get(UploadJob, job_id)
            return JobView.of(row) if row else None

    def for_thread(self, thread_id: str, owner: str) -> list[JobView]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(UploadJob)
                .where(UploadJob.thread_id == thread_id, UploadJob.owner == owner)
                .order_by(col(UploadJob.created_at))
            )
            return [JobView.of(row) for row in rows]

    def claim_next(self) -> JobView | None:
        """Atomically move the oldest queued job to `running` (None when there is none)."""
        with Session(self.engine) as session:
            candidates = session.exec(
                select(UploadJob.id)
                .where(UploadJob.status == "queued", col(UploadJob.cancel_requested).is_(False))
                .order_by(col(UploadJob.created_at))
                .limit(5)
            ).all()
        for job_id in candidates:
            claimed = self.claim(job_id)
            if claimed is not None:
                return claimed
        return None

    def claim(self, job_id: str) -> JobView | None:
        """Move this job from `queued` to `running`; None when someone else got it (or it ended)."""
        now = utcnow()
        claimed = self._update_where(
            job_id,
            {"status": "queued", "cancel_requested": False},
            status="running",
            heartbeat_at=now,
            updated_at=now,
            attempts=UploadJob.attempts + 1,  # type: ignore[operator]
        )
        return self.get(job_id) if claimed else None

    def queued_ids(self) -> list[str]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(UploadJob.id).where(UploadJob.status == "queued").order_by(col(UploadJob.created_at))
            )
            return list(rows)

    def claim_announcement(self, job_id: str) -> bool:
        """True for exactly one caller once the job has ended: the one that shows its result.

        Replicas that follow the same job (accepted on one, reopened on another) race here; the
        progress label of an ended job is shown nowhere, so it carries the mark (no extra column).
        """
        statement = (
            update(UploadJob)
            .where(col(UploadJob.id) == job_id, col(UploadJob.status).in_(FINISHED))
            .where(col(UploadJob.progress_label) != ANNOUNCED)
            .values(progress_label=ANNOUNCED)
        )
        with Session(self.engine) as session:
            result = session.exec(statement)  # type: ignore[call-overload]
            session.commit()
            return bool(result.rowcount)

    def heartbeat(self, job_id: str, *, done: int, total: int, label: str) -> bool:
        """Record progress; False when the job was cancelled meanwhile (from anywhere)."""
        now = utcnow()
        self._update_where(
            job_id,
            {"status": "running"},
            progress_done=done,
            progress_total=total,
            progress_label=label[:200],
            heartbeat_at=now,
            updated_at=now,
        )
        job = self.get(job_id)
        return job is not None and not job.cancel_requested and job.status == "running"

    def set_fields(self, job_id: str, **fields: Any) -> None:
        self._update_where(job_id, {}, updated_at=utcnow(), **fields)

    def steps(self, job_id: str) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            row = session.get(UploadJob, job_id)
            return list(json.loads(row.steps_json)) if row else []

    def add_step(self, job_id: str, step: dict[str, Any]) -> None:
        with Session(self.engine) as session:
            row = session.get(UploadJob, job_id)
            if row is None:
                return
            steps = [s for s in json.loads(row.steps_json) if s.get("index") != step.get("index")]
            row.steps_json = json.dumps([*steps, step])
            row.updated_at = utcnow()
            session.add(row)
            session.commit()

    def finish(
        self, job_id: str, status: JobStatus, *, summary: str | None = None, error: str | None = None
    ) -> None:
        fields: dict[str, Any] = {"status": status, "updated_at": utcnow(), "heartbeat_at": None}
        if summary is not None:
            fields["result_summary"] = summary
        if error is not None:
            fields["error"] = error[:500]
        self._update_where(job_id, {}, **fields)

    def request_cancel(self, job_id: str, owner: str) -> JobView | None:
        """Flag a job for cancellation (owner only). A queued job is cancelled at once."""
        job = self.get(job_id)
        if job is None or job.owner != owner or job.finished:
            return None
        self._update_where(
            job_id, {"status": "queued"}, status="cancelled", cancel_requested=True, updated_at=utcnow()
        )
        self._update_where(job_id, {"status": "running"}, cancel_requested=True, updated_at=utcnow())
        return self.get(job_id)

    def stale_running(self, older_than_s: float) -> list[JobView]:
        limit = utcnow() - timedelta(seconds=older_than_s)
        with Session(self.engine) as session:
            rows = session.exec(select(UploadJob).where(UploadJob.status == "running"))
            return [
                JobView.of(row) for row in rows if (beat := _utc(row.heartbeat_at)) is None or beat < limit
            ]

    def requeue(self, job_id: str, label: str) -> bool:
        return self._update_where(
            job_id, {"status": "running"}, status="queued", progress_label=label, updated_at=utcnow()
        )

    def _update_where(self, job_id: str, expected: dict[str, Any], **values: Any) -> bool:
        statement = update(UploadJob).where(col(UploadJob.id) == job_id)
        for key, value in expected.items():
            statement = statement.where(getattr(UploadJob, key) == value)
        with Session(self.engine) as session:
            result = session.exec(statement.values(**values))  # type: ignore[call-overload]
            session.commit()
            return bool(result.rowcount)
