"""A chat reopened while its summary runs (or after it ended unseen) shows the news live, once.

Real Chainlit websocket sessions on the real Socket.IO manager (a closed tab is a disconnected
socket whose session Chainlit keeps, as it does for an hour), the real job store and workers, and
scripted models. What each browser would receive is what its session's `emit` records. The
two-replica case runs two `QueuedJobs` followers on a real PostgreSQL: the one holding the closed
tab's session polls far more often, so before the fix it won the race to show the result and the
user, who had reopened the chat on the other replica, saw it only after a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from chainlit.context import init_http_context, init_ws_context
from chainlit.server import sio
from chainlit.session import WebsocketSession, ws_sessions_id
from chainlit.user import User
from sqlalchemy import Engine

from assistant.governance.db import create_db_engine, migrate
from assistant.governance.settings import GovernanceSettings
from assistant.pipeline import ModelSet
from assistant.ui.uploads import PROGRESS_KEY, ChainlitJobEvents, closing_text, progress_lines, reattach_jobs
from assistant.uploads.intake import UploadIntake
from assistant.uploads.jobs import ANNOUNCED, JobStore
from assistant.uploads.queue_client import QueuedJobs
from assistant.uploads.runner import SummaryJobRunner
from assistant.uploads.service import UploadService
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging
from assistant.uploads.worker import SummaryWorker
from knowledge.settings import ParsingSettings
from models.base import ChatRequest, StreamEvent
from models.fakes import FunctionModel
from tests.test_jobs_worker import queue_job
from tests.test_summarize_logic import KeywordPrivacy, echo_points

SETTINGS = UploadSettings(structured_reasks=0, progress_interval_s=0.2, poll_interval_s=0.05)


class Browser:
    """One websocket session of alice's, on a real Socket.IO connection record."""

    def __init__(self, session: WebsocketSession, sid: str) -> None:
        self.session, self.sid = session, sid
        self.events: list[tuple[str, Any]] = []

    async def close_tab(self) -> None:
        await sio.manager.disconnect(self.sid, "/")  # Chainlit keeps the session object

    def messages(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == event and isinstance(data, dict)]

    def results(self) -> list[dict[str, Any]]:
        return [m for m in self.messages("new_message") if "upload_job" in (m.get("metadata") or {})]


@pytest.fixture
def browsers() -> Iterator[Any]:
    made: list[Browser] = []

    async def open_browser(thread_id: str = "t1") -> Browser:
        sid = await sio.manager.connect(f"eio-{uuid.uuid4().hex}", "/")
        browser: Browser

        async def emit(event: str, data: Any) -> None:
            if sio.manager.is_connected(sid, "/"):  # what a closed tab would never receive
                browser.events.append((event, data))

        session = WebsocketSession(
            id=f"session-{uuid.uuid4().hex}", socket_id=sid, emit=emit, emit_call=lambda *a, **k: None,
            user_env={}, client_type="webapp", user=User(identifier="alice"), token=None,
            chat_profile=None, thread_id=thread_id,
        )  # fmt: skip
        browser = Browser(session, sid)
        made.append(browser)
        return browser

    yield open_browser
    for browser in made:
        ws_sessions_id.pop(browser.session.id, None)  # type: ignore[attr-defined]


async def reopen(browser: Browser, uploads: UploadService, events: ChainlitJobEvents) -> list[Any]:
    """What `on_chat_resume` does for uploads, in that browser's session."""

    async def run() -> list[Any]:
        init_ws_context(browser.session)
        return await reattach_jobs(owner="alice", thread_id="t1", uploads=uploads, events=events)

    # A fresh context per browser, as each Socket.IO handler gets.
    return await asyncio.create_task(run(), context=contextvars.Context())


def upload_service(store: JobStore, staging: Staging, worker: SummaryWorker | QueuedJobs) -> UploadService:
    intake = UploadIntake(
        settings=SETTINGS, parsing=ParsingSettings(), privacy=KeywordPrivacy(), store=store, staging=staging
    )
    return UploadService(intake=intake, store=store, worker=worker)


class GatedModel(FunctionModel):
    """The scripted summarizer, held until the test opens the gate (the job stays running)."""

    def __init__(self) -> None:
        super().__init__(echo_points, kind="local")
        self.gate = asyncio.Event()

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        await self.gate.wait()
        async for event in super().stream(request):
            yield event


def in_process(engine: Engine, data_dir: Path, model: FunctionModel, events: ChainlitJobEvents) -> Any:
    store, staging = JobStore(engine), Staging(data_dir / "uploads")
    runner = SummaryJobRunner(
        store=store, staging=staging, models=ModelSet(local=model), privacy=KeywordPrivacy(),
        index=None, settings=SETTINGS,
    )  # fmt: skip
    worker = SummaryWorker(store, runner, staging, SETTINGS, events)
    return store, staging, worker, upload_service(store, staging, worker)


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = create_db_engine(GovernanceSettings(), data_dir)
    migrate(engine)
    yield engine
    engine.dispose()


async def _until(check: Any, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await asyncio.to_thread(check):  # noqa: ASYNC110 (a database row, not an event)
            await asyncio.sleep(0.02)


async def test_a_chat_reopened_while_its_summary_runs_shows_progress_and_result_live_once(
    engine: Engine, data_dir: Path, browsers: Any
) -> None:
    events = ChainlitJobEvents()
    model = GatedModel()
    store, staging, worker, uploads = in_process(engine, data_dir, model, events)
    job = queue_job(store, staging, 2)
    first = await browsers()
    await reopen(first, uploads, events)  # the progress line of the first tab, with Cancel
    (first_line,) = first.messages("new_message")
    assert first_line["metadata"] == {PROGRESS_KEY: job.id}
    await worker.start()
    try:
        await _until(lambda: (found := store.get(job.id)) is not None and found.status == "running")
        await first.close_tab()
        second = await browsers()
        assert [j.id for j in await reopen(second, uploads, events)] == [job.id]
        assert events.watching(job.id)
        model.gate.set()
        done = await worker.wait_for(job.id, 30)
    finally:
        await worker.stop()
    assert done.status == "done"
    # Live in the reopened tab: the result once, and both progress lines (its own and the closed
    # tab's, which it shows from history) replaced by the closing line, without a reload.
    assert [m["metadata"]["upload_job"] for m in second.results()] == [job.id]
    closed = {m["id"] for m in second.messages("update_message") if m["output"] == closing_text(done)}
    assert closed >= {first_line["id"], second.messages("new_message")[0]["id"]}
    assert first.results() == [] and not events.watching(job.id)


async def test_an_end_nobody_was_shown_appears_live_on_reopening_and_only_once(
    engine: Engine, data_dir: Path, browsers: Any
) -> None:
    events = ChainlitJobEvents()
    store, staging, worker, uploads = in_process(engine, data_dir, FunctionModel(echo_points), events)
    job = queue_job(store, staging, 1)
    # The app stopped between finishing the job and showing it: ended, never announced.
    store.finish(job.id, "done", summary="The summary [p. 1]")
    reopened = await browsers()
    assert [j.id for j in await reopen(reopened, uploads, events)] == [job.id]
    await _until(lambda: (found := store.get(job.id)) is not None and found.progress_label == ANNOUNCED)
    await worker.stop()  # waits for the announcement it started
    assert [m["output"] for m in reopened.results()] == ["The summary [p. 1]"]
    again = await browsers()
    assert await reopen(again, uploads, events) == []  # shown once: the next reopen adds nothing
    assert again.events == []


async def test_progress_lines_are_found_in_a_stored_thread_by_job() -> None:
    init_http_context(thread_id="t1")  # reopening runs in the new session's context
    steps = [
        {"id": "s1", "type": "assistant_message", "output": "⏳ Summarizing a.pdf: 1/3",
         "createdAt": "2026-11-29T10:00:00Z", "metadata": {PROGRESS_KEY: "job-a"}, "parentId": "run-1"},
        {"id": "s2", "type": "assistant_message", "output": "The summary",
         "createdAt": "2026-11-29T10:01:00Z", "metadata": {"upload_job": "job-a"}},
        {"id": "s3", "type": "user_message", "output": "hello", "createdAt": "2026-11-29T10:02:00Z"},
    ]  # fmt: skip
    found = progress_lines(steps)
    assert list(found) == ["job-a"]
    (line,) = found["job-a"]
    # The same step, so an update replaces it in place (same id, place and parent).
    assert (line.id, line.created_at, line.parent_id) == ("s1", "2026-11-29T10:00:00Z", "run-1")


# -- two replicas on PostgreSQL --------------------------------------------------------------------


@pytest.fixture
def pg_engine(postgres_engine: Engine) -> Engine:
    return postgres_engine


@contextlib.asynccontextmanager
async def replica(
    engine: Engine, staging: Staging, url: str, follow_interval_s: float
) -> AsyncIterator[tuple[UploadService, ChainlitJobEvents]]:
    events = ChainlitJobEvents()
    settings = SETTINGS.model_copy(
        update={"queue": "procrastinate", "follow_interval_s": follow_interval_s, "announce_grace_s": 3.0}
    )
    jobs = QueuedJobs(JobStore(engine), staging, settings, url, events)
    await jobs.start()
    try:
        yield upload_service(JobStore(engine), staging, jobs), events
    finally:
        await jobs.stop()


class StoredThread:
    """Chainlit's data layer as far as reopening reads it: the thread's stored steps."""

    def __init__(self, steps: list[dict[str, Any]]) -> None:
        self.steps = steps

    async def get_thread(self, thread_id: str) -> dict[str, Any]:
        return {"id": thread_id, "steps": self.steps}


@pytest.mark.postgres
async def test_the_replica_where_the_chat_was_reopened_shows_the_result_live(
    pg_engine: Engine, data_dir: Path, postgres_url: str, browsers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, staging = JobStore(pg_engine), Staging(data_dir / "shared" / "uploads")
    job = queue_job(store, staging, 1)
    store.claim(job.id)  # a worker process runs it
    stored = StoredThread([])
    monkeypatch.setattr("assistant.ui.uploads.get_data_layer", lambda: stored)
    # r1 accepted the upload and polls often; the user closed that tab and reopened the chat on r2.
    async with replica(pg_engine, staging, postgres_url, 0.01) as (r1, r1_events):
        async with replica(pg_engine, staging, postgres_url, 0.2) as (r2, r2_events):
            on_r1 = await browsers()
            await reopen(on_r1, r1, r1_events)
            await on_r1.close_tab()
            stored.steps = on_r1.messages("new_message")  # what r1 wrote into the thread
            on_r2 = await browsers()
            await reopen(on_r2, r2, r2_events)
            store.finish(job.id, "done", summary="The summary [p. 1]")  # the worker's last write
            for jobs in (r1.worker, r2.worker):
                await jobs.wait_for(job.id, 30)
    assert [m["output"] for m in on_r2.results()] == ["The summary [p. 1]"]
    closed = {m["id"] for m in on_r2.messages("update_message") if m["output"].startswith("✅")}
    assert on_r1.messages("new_message")[0]["id"] in closed  # r1's line, shown on r2 from history
    assert on_r1.results() == []
    assert store.claim_announcement(job.id) is False  # nobody shows it again
