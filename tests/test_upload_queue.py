"""Summary jobs on procrastinate, on a real throwaway PostgreSQL: defer, run, follow, cancel, recover.

The app side (`QueuedJobs`, what a replica holds) and the worker side (`serve_jobs` with a
`SummaryWorker`, what `confidante worker` runs) meet only through the database, as they do across
processes. Models are scripted (the logic under test is the hand-over); the real topology with
real models runs in tests/test_two_replicas.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from assistant.pipeline import ModelSet
from assistant.uploads import queue_app
from assistant.uploads.jobs import JobStore
from assistant.uploads.queue_client import QueuedJobs
from assistant.uploads.queue_worker import recover_once, serve_jobs
from assistant.uploads.runner import SummaryJobRunner
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging
from assistant.uploads.worker import SummaryWorker
from models.base import ChatRequest
from models.fakes import FunctionModel
from tests.test_jobs_worker import Events, queue_job
from tests.test_summarize_logic import KeywordPrivacy, echo_points

pytestmark = pytest.mark.postgres

SETTINGS = UploadSettings(
    queue="procrastinate",
    structured_reasks=0,
    progress_interval_s=0.2,
    poll_interval_s=0.1,
    follow_interval_s=0.05,
    stale_after_s=30,
)


@pytest.fixture
def engine(postgres_engine: Engine) -> Engine:
    return postgres_engine


def _worker(
    engine: Engine, staging: Staging, model: FunctionModel, settings: UploadSettings = SETTINGS
) -> SummaryWorker:
    store = JobStore(engine)
    runner = SummaryJobRunner(
        store=store, staging=staging, models=ModelSet(local=model), privacy=KeywordPrivacy(),
        index=None, settings=settings,
    )  # fmt: skip
    return SummaryWorker(store, runner, staging, settings, shows_results=False)


@contextlib.asynccontextmanager
async def replica(engine: Engine, staging: Staging, url: str) -> AsyncIterator[tuple[QueuedJobs, Events]]:
    events = Events()
    jobs = QueuedJobs(JobStore(engine), staging, SETTINGS, url, events)
    await jobs.start()
    try:
        yield jobs, events
    finally:
        await jobs.stop()


@contextlib.asynccontextmanager
async def running_worker(worker: SummaryWorker, url: str, grace_s: float = 10.0) -> AsyncIterator[None]:
    task = asyncio.create_task(serve_jobs(worker, url, signals=False, grace_s=grace_s))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _todo_tasks(url: str) -> list[str]:
    with psycopg.connect(queue_app.conninfo(url)) as connection:
        rows = connection.execute(
            "SELECT args->>'job_id' FROM procrastinate_jobs WHERE status = 'todo' ORDER BY id"
        ).fetchall()
    return [row[0] for row in rows]


def test_the_queue_needs_postgresql() -> None:
    with pytest.raises(queue_app.QueueNotAvailable, match=r"governance\.database_url"):
        queue_app.conninfo("sqlite:////tmp/confidante.db")
    with pytest.raises(queue_app.QueueNotAvailable):
        queue_app.conninfo(None)
    assert queue_app.conninfo("postgresql+psycopg://u:p@127.0.0.1:5/db") == "postgresql://u:p@127.0.0.1:5/db"


def test_schema_is_created_once(postgres_url: str) -> None:
    assert queue_app.ensure_schema(postgres_url) is True
    assert queue_app.ensure_schema(postgres_url) is False


async def test_a_job_deferred_by_a_replica_is_run_by_the_worker_and_shown_once(
    engine: Engine, data_dir: Path, postgres_url: str
) -> None:
    staging = Staging(data_dir / "shared" / "uploads")
    store = JobStore(engine)
    job = queue_job(store, staging, 4, classified=False)
    worker = _worker(engine, staging, FunctionModel(echo_points, kind="local", delay_s=0.05))
    async with replica(engine, staging, postgres_url) as (app_side, events):
        await app_side.submit([job.id])
        assert _todo_tasks(postgres_url) == [job.id]  # the task names the job id, nothing else
        async with running_worker(worker, postgres_url):
            done = await app_side.wait_for(job.id, 60)
    assert done.status == "done" and done.result_summary and "[p. 1]" in done.result_summary
    assert [j.id for j in events.finished] == [job.id]  # shown once, by the replica
    assert any(p.status == "running" for p in events.progress)  # progress came through the row
    assert staging.load(job.id) is None
    assert store.claim_announcement(job.id) is False  # nobody else shows it again


async def test_two_replicas_following_one_job_show_its_end_once(
    engine: Engine, data_dir: Path, postgres_url: str
) -> None:
    staging = Staging(data_dir / "uploads")
    store = JobStore(engine)
    job = queue_job(store, staging, 2)
    worker = _worker(engine, staging, FunctionModel(echo_points, kind="local", delay_s=0.05))
    async with replica(engine, staging, postgres_url) as (first, first_events):
        async with replica(engine, staging, postgres_url) as (second, second_events):
            await first.submit([job.id])
            second.follow(job)  # the user reopened the chat on the other replica
            async with running_worker(worker, postgres_url):
                await first.wait_for(job.id, 60)
                await second.wait_for(job.id, 60)
    assert len(first_events.finished) + len(second_events.finished) == 1


async def test_cancelling_a_queued_job_ends_it_and_the_worker_skips_it(
    engine: Engine, data_dir: Path, postgres_url: str
) -> None:
    staging = Staging(data_dir / "uploads")
    store = JobStore(engine)
    job = queue_job(store, staging, 2)
    calls: list[str] = []

    def never(request: ChatRequest) -> str:
        calls.append("called")
        return "{}"

    worker = _worker(engine, staging, FunctionModel(never, kind="local"))
    async with replica(engine, staging, postgres_url) as (app_side, events):
        await app_side.submit([job.id])
        cancelled = await app_side.cancel(job.id, "alice")
        assert cancelled is not None and cancelled.status == "cancelled"
        assert await app_side.cancel(job.id, "alice") is None  # already ended
        assert await worker.run_one(job.id) is None  # the task finds nothing to claim
    assert calls == [] and [j.status for j in events.finished] == ["cancelled"]
    assert staging.load(job.id) is None


async def test_recovery_defers_queued_rows_without_a_task_exactly_once(
    engine: Engine, data_dir: Path, postgres_url: str
) -> None:
    staging = Staging(data_dir / "uploads")
    store = JobStore(engine)
    orphan = queue_job(store, staging, 1)  # its replica died before deferring it
    worker = _worker(engine, staging, FunctionModel(echo_points, kind="local"))
    queue_app.ensure_schema(postgres_url)
    app = queue_app.queue_app(postgres_url)
    async with app.open_async():
        assert await recover_once(app, worker) == [orphan.id]
        assert await recover_once(app, worker) == []  # its task is waiting: no second one
    assert _todo_tasks(postgres_url) == [orphan.id]


async def test_a_reopened_chat_shows_an_end_nobody_showed_and_never_one_already_shown(
    engine: Engine, data_dir: Path, postgres_url: str
) -> None:
    staging = Staging(data_dir / "uploads")
    store = JobStore(engine)
    orphan, shown = queue_job(store, staging, 1), queue_job(store, staging, 1)
    for job in (orphan, shown):  # both ended in a worker; the replica following them died
        store.finish(job.id, "done", summary="Summary")
    assert store.claim_announcement(shown.id)  # ... after it had shown this one
    async with replica(engine, staging, postgres_url) as (app_side, events):
        for job in store.for_thread("t1", "alice"):  # what reopening the chat follows
            app_side.follow(job)
        await app_side.wait_for(orphan.id, 30)
        await app_side.wait_for(shown.id, 30)
    assert [job.id for job in events.finished] == [orphan.id]


async def test_a_stopped_worker_puts_its_running_job_back_and_another_worker_resumes_it(
    engine: Engine, data_dir: Path, postgres_url: str
) -> None:
    staging = Staging(data_dir / "uploads")
    store = JobStore(engine)
    job = queue_job(store, staging, 6)
    settings = SETTINGS.model_copy(update={"batch_map_tokens": 0})  # one map step per page
    first = _worker(engine, staging, FunctionModel(echo_points, kind="local", delay_s=0.3), settings)
    async with replica(engine, staging, postgres_url) as (app_side, events):
        await app_side.submit([job.id])
        async with running_worker(first, postgres_url, grace_s=0.1):
            # Stopped once a map step is done, mid-job (the row is the only signal across processes).
            while not await asyncio.to_thread(store.steps, job.id):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        back = store.get(job.id)
        assert back is not None and (back.status, back.progress_label) == (
            "queued", "waiting to resume after a restart",
        )  # fmt: skip
        finished_steps = len(store.steps(job.id))
        calls: list[int] = []

        def counting(request: ChatRequest) -> str:
            calls.append(1)
            return echo_points(request)

        second = _worker(engine, staging, FunctionModel(counting, kind="local"), settings)
        async with running_worker(second, postgres_url):  # its recovery round re-defers the job
            done = await app_side.wait_for(job.id, 60)
    assert (done.status, done.attempts) == ("done", 2)
    assert len(calls) == 6 - finished_steps + 1  # the remaining map steps and the reduce
    assert [j.id for j in events.finished] == [job.id]
