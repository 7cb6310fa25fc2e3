"""The background worker on a real, migrated SQLite database: run, progress, cancel, restart recovery.

Models are scripted here (logic under test: persistence and control flow); the real local model
runs in tests/test_uploads_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from assistant.governance.db import create_db_engine, current_revision, migrate
from assistant.governance.settings import GovernanceSettings
from assistant.pipeline import ModelSet
from assistant.uploads.jobs import JobStore, JobView, utcnow
from assistant.uploads.runner import SummaryJobRunner
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import StagedDocument, Staging
from assistant.uploads.worker import RESTART_FAILED, SummaryWorker
from knowledge.parsing.documents import ParsedDocument, Section
from models.fakes import FunctionModel
from routing.tiers import Tier
from tests.test_summarize_logic import KeywordPrivacy, echo_points

PAGE = "Page {n} of the handbook explains rule number {n} about travel expenses and receipts."


class Events:
    def __init__(self) -> None:
        self.progress: list[JobView] = []
        self.finished: list[JobView] = []

    async def job_progress(self, job: JobView) -> None:
        self.progress.append(job)

    async def job_finished(self, job: JobView) -> None:
        self.finished.append(job)


def parsed(pages: int) -> ParsedDocument:
    sections, cursor = [], 0
    for n in range(1, pages + 1):
        text = PAGE.format(n=n)
        sections.append(Section(text=text, start=cursor, end=cursor + len(text), page=n))
        cursor += len(text) + 2
    return ParsedDocument(
        title="Handbook", kind="pdf", display_name="handbook.pdf", sha256="0" * 64, size_bytes=1000,
        sections=tuple(sections), page_count=pages,
    )  # fmt: skip


@pytest.fixture
def engine(data_dir: Path):  # type: ignore[no-untyped-def]
    engine = create_db_engine(GovernanceSettings(), data_dir)
    migrate(engine)
    yield engine
    engine.dispose()


def make_worker(engine, data_dir: Path, model: FunctionModel, **overrides):  # type: ignore[no-untyped-def]
    settings = UploadSettings(structured_reasks=0, progress_interval_s=0.2, poll_interval_s=0.05, **overrides)
    store, staging, events = JobStore(engine), Staging(data_dir / "uploads"), Events()
    runner = SummaryJobRunner(
        store=store,
        staging=staging,
        models=ModelSet(local=model),
        privacy=KeywordPrivacy(),
        index=None,
        settings=settings,
    )
    return SummaryWorker(store, runner, staging, settings, events), store, staging, events


def queue_job(store: JobStore, staging: Staging, pages: int, *, classified: bool = True) -> JobView:
    doc = parsed(pages)
    tiers = tuple(Tier.PUBLIC if classified else None for _ in doc.sections)
    job = store.create(
        owner="alice",
        thread_id="t1",
        display_name="handbook.pdf",
        tier="public",
        page_count=pages,
        total=pages,
    )
    staging.save(job.id, StagedDocument(parsed=doc, section_tiers=tiers, meta_tier=Tier.PUBLIC))
    return job


def test_migration_creates_the_jobs_table(engine) -> None:  # type: ignore[no-untyped-def]
    assert current_revision(engine) is not None
    job = JobStore(engine).create(
        owner="a", thread_id="t", display_name="x.pdf", tier="public", page_count=1, total=1
    )
    assert JobStore(engine).get(job.id) == job


async def test_job_runs_to_done_with_progress_and_cleans_up(engine, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    model = FunctionModel(echo_points, kind="local", delay_s=0.05)
    worker, store, staging, events = make_worker(engine, data_dir, model)
    job = queue_job(store, staging, 6, classified=False)
    await worker.start()
    try:
        done = await worker.wait_for(job.id, 30)
    finally:
        await worker.stop()
    assert done.status == "done" and done.result_summary is not None
    assert "[p. 1]" in done.result_summary and "Key points" in done.result_summary
    assert events.finished and events.finished[-1].id == job.id
    labels = {p.progress_label for p in events.progress}
    assert any(label.startswith("section 1 of") for label in labels)
    assert any("sensitive content" in label for label in labels)
    assert staging.load(job.id) is None  # staged text removed once the job ended
    assert worker.max_progress_gap_s < 10


async def test_cancel_stops_the_running_model_stream(engine, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    started = asyncio.Event()

    def slow(request):  # type: ignore[no-untyped-def]
        started.set()
        return ["word "] * 2000  # 2000 pieces × 10 ms: far longer than the test

    model = FunctionModel(slow, kind="local", delay_s=0.01)
    worker, store, staging, events = make_worker(engine, data_dir, model)
    job = queue_job(store, staging, 3)
    await worker.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        assert await worker.cancel(job.id, "mallory") is None  # not the owner
        asked = time.monotonic()
        cancelled = await worker.cancel(job.id, "alice")
        elapsed = time.monotonic() - asked
    finally:
        await worker.stop()
    assert cancelled is not None and cancelled.status == "cancelled"
    assert model.cancelled == 1 and elapsed < 5
    assert events.finished[-1].status == "cancelled"


async def test_cancel_of_a_queued_job_needs_no_worker(engine, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    worker, store, staging, _ = make_worker(engine, data_dir, FunctionModel(echo_points, kind="local"))
    job = queue_job(store, staging, 2)
    cancelled = await worker.cancel(job.id, "alice")
    assert cancelled is not None and cancelled.status == "cancelled"
    assert store.claim_next() is None


async def test_restart_resumes_a_stale_running_job_from_its_last_finished_step(
    engine, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    model = FunctionModel(echo_points, kind="local")
    # One step per share of the pages (no batching), as when the step was persisted.
    worker, store, staging, _ = make_worker(engine, data_dir, model, max_map_calls=4, batch_map_tokens=0)
    job = queue_job(store, staging, 8)
    # A previous process claimed the job, finished map step 0, then died (heartbeat long ago).
    assert store.claim_next() is not None
    point = {"text": "Persisted point from before the restart.", "ref": "p. 1", "origin": "model"}
    step = {"index": 0, "tier": "public", "refs": ["p. 1", "p. 2"], "written_by": "local", "points": [point]}
    store.add_step(job.id, step)
    store.set_fields(job.id, heartbeat_at=utcnow() - timedelta(minutes=5))
    await worker.start()  # start-up recovery re-queues it
    try:
        done = await worker.wait_for(job.id, 30)
    finally:
        await worker.stop()
    assert done.status == "done" and done.attempts == 2
    assert "Persisted point from before the restart." in (done.result_summary or "")
    # Map step 0 was not redone: only steps 1..3 and the reduce reached the model.
    mapped = [r for r in model.requests if "<document>" in r.messages[-1].content]
    assert len(mapped) == 3 and all("[p. 1]" not in r.messages[-1].content for r in mapped)
    assert len(json.loads(json.dumps(store.steps(job.id)))) == 4


async def test_restart_fails_a_job_cleanly_after_too_many_attempts(engine, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    worker, store, staging, _ = make_worker(
        engine, data_dir, FunctionModel(echo_points, kind="local"), max_attempts=1
    )
    job = queue_job(store, staging, 2)
    store.claim_next()
    store.set_fields(job.id, heartbeat_at=utcnow() - timedelta(minutes=5))
    assert worker.recover() == [job.id]
    failed = store.get(job.id)
    assert failed is not None and failed.status == "failed" and failed.error == RESTART_FAILED


async def test_a_fresh_heartbeat_is_not_taken_over(engine, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    worker, store, staging, _ = make_worker(engine, data_dir, FunctionModel(echo_points, kind="local"))
    job = queue_job(store, staging, 2)
    store.claim_next()  # running, heartbeat now: another live process owns it
    assert worker.recover() == []
    assert store.get(job.id).status == "running"  # type: ignore[union-attr]


class SlowEvents(Events):
    """Announcing takes a while (a busy UI): the window in which an ended job used to lose its news."""

    def __init__(self) -> None:
        super().__init__()
        self.announcing = asyncio.Event()

    async def job_finished(self, job: JobView) -> None:
        self.announcing.set()
        await asyncio.sleep(0.5)
        await super().job_finished(job)


async def test_stop_right_after_a_job_ends_still_announces_it(engine, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    model = FunctionModel(echo_points, kind="local")
    worker, store, staging, _ = make_worker(engine, data_dir, model)
    events = worker.events = SlowEvents()
    job = queue_job(store, staging, 2, classified=False)
    await worker.start()
    try:
        await asyncio.wait_for(events.announcing.wait(), 30)
    finally:
        await worker.stop()  # lands while the end is being announced
    assert [j.id for j in events.finished] == [job.id]
