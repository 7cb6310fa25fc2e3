"""The background worker: runs summary jobs outside any websocket handler, one at a time by default.

Owned by the app (started at start-up, stopped at shutdown), it claims queued jobs from the
database, runs each as its own asyncio task with a heartbeat/progress ticker, and reports progress
and the end of every job to `JobEvents` (the chat UI). A closed browser tab does not touch it.
Cancel really stops work: the job's task is cancelled, which cancels the model stream in flight.
Recovery: `running` jobs whose heartbeat went stale (their process died) are re-queued and resume
from their last finished map step, or are failed with a message after `max_attempts`: a job is
never silently lost. A job cancelled from another process is noticed at the next heartbeat.

With `uploads.queue = "procrastinate"` the app does not start this loop: `confidante worker`
processes call `run_one` from a procrastinate task naming the job id (`assistant/uploads/
queue_worker.py`), and `JobStore` stays the source of truth for status and progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from assistant.executors import run_background, run_io
from assistant.uploads.jobs import ANNOUNCED, JobStore, JobView
from assistant.uploads.runner import JobFailed, SummaryJobRunner
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging

log = logging.getLogger(__name__)

CANCELLED_MESSAGE = "Summary cancelled."
RESTART_FAILED = "The app restarted while summarizing this document too many times; please upload it again."
UNEXPECTED = "Something went wrong on our side while summarizing this document."


class JobEvents(Protocol):
    async def job_progress(self, job: JobView) -> None: ...

    async def job_finished(self, job: JobView) -> None: ...


@runtime_checkable
class JobViewers(Protocol):
    """Events that know whether a user is looking at a job here, now (a live chat session).

    A replica uses it to leave a job's end to the replica where its user has the chat open; events
    without it are taken to show every end where they are (tests' recorders)."""

    def watching(self, job_id: str) -> bool: ...


class NoEvents:
    async def job_progress(self, job: JobView) -> None:
        return None

    async def job_finished(self, job: JobView) -> None:
        return None

    def watching(self, job_id: str) -> bool:
        return False


@dataclass
class _Progress:
    done: int
    total: int
    label: str
    last_published: float = 0.0


class SummaryWorker:
    def __init__(
        self,
        store: JobStore,
        runner: SummaryJobRunner,
        staging: Staging,
        settings: UploadSettings,
        events: JobEvents | None = None,
        *,
        shows_results: bool = True,
    ) -> None:
        self.store = store
        self.runner = runner
        self.staging = staging
        self.settings = settings
        self.events: JobEvents = events or NoEvents()
        # False in a queue worker process: the replica following the job shows its end.
        self.shows_results = shows_results
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._user_cancelled: set[str] = set()
        self._announcing: set[str] = set()
        # Late announcements of ends found on reopening a chat (kept referenced until done).
        self._late: set[asyncio.Task[None]] = set()
        # Longest gap between two progress reports of any job, for the bench.
        self.max_progress_gap_s = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        await run_background(self.recover)
        self._loop_task = asyncio.create_task(self._loop(), name="upload-summary-worker")

    async def stop(self) -> None:
        """Stop claiming; running jobs go back to the queue and resume at the next start."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        for job_id, task in list(self._running.items()):
            # An ended job finishes announcing; cancelling it would lose the news.
            if job_id not in self._announcing:
                task.cancel()
        if self._running or self._late:
            await asyncio.gather(*self._running.values(), *self._late, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    async def submit(self, job_ids: list[str]) -> None:
        """New jobs are in the table: claim them now rather than at the next poll."""
        if job_ids:
            self.wake()

    def follow(self, job: JobView) -> None:
        """This worker announces every job it runs as it ends; a reopened chat only brings back
        an end nobody showed (the app stopped between finishing the job and showing it)."""
        unshown = job.finished and job.progress_label != ANNOUNCED
        if unshown and self.shows_results and job.id not in self._running:
            task = asyncio.get_running_loop().create_task(self._after(job.id), name=f"upload-show-{job.id}")
            self._late.add(task)
            task.add_done_callback(self._late.discard)

    async def run_one(self, job_id: str) -> JobView | None:
        """Claim this job if it is still queued and run it to its end (the queue task's body).

        None when it was not queued (another worker has it, or it was cancelled meanwhile)."""
        job = await run_io(self.store.claim, job_id)
        if job is None:
            return None
        task = asyncio.create_task(self._run(job), name=f"upload-job-{job.id}")
        self._running[job.id] = task
        await task
        return await run_io(self.store.get, job_id)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    async def wait_for(self, job_id: str, timeout_s: float) -> JobView:
        """Wait until a job has finished and its end was announced (tests, the bench and the CLI)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = await run_io(self.store.get, job_id)
            announced = job is not None and job.finished and job_id not in self._running
            if job is None or announced or time.monotonic() > deadline:
                if job is None:
                    raise LookupError(job_id)
                return job
            await asyncio.sleep(0.2)

    # -- cancel and recovery -----------------------------------------------------------------

    async def cancel(self, job_id: str, owner: str) -> JobView | None:
        """Cancel the owner's job; a running one stops within a heartbeat (here: at once)."""
        job = await run_io(self.store.request_cancel, job_id, owner)
        if job is None:
            return None
        task = self._running.get(job_id)
        if task is not None:
            self._user_cancelled.add(job_id)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout=5.0)
        elif job.status == "cancelled":
            await self._after(job_id)
        return await run_io(self.store.get, job_id)

    def recover(self) -> list[str]:
        """Re-queue or fail `running` jobs whose process died; returns the ids touched."""
        touched = []
        for job in self.store.stale_running(self.settings.stale_after_s):
            if job.id in self._running:
                continue
            touched.append(job.id)
            if job.cancel_requested:
                self.store.finish(job.id, "cancelled", error=CANCELLED_MESSAGE)
            elif job.attempts >= self.settings.max_attempts or self.staging.load(job.id) is None:
                self.store.finish(job.id, "failed", error=RESTART_FAILED)
                self.staging.remove(job.id)
            else:
                self.store.requeue(job.id, "resuming after a restart")
        return touched

    # -- the loop ----------------------------------------------------------------------------

    async def _loop(self) -> None:
        last_recovery = time.monotonic()
        while True:
            if len(self._running) < self.settings.concurrency:
                job = await run_io(self.store.claim_next)
                if job is not None:
                    self._running[job.id] = asyncio.create_task(self._run(job), name=f"upload-job-{job.id}")
                    continue
            if time.monotonic() - last_recovery > self.settings.stale_after_s / 2:
                await run_background(self.recover)
                last_recovery = time.monotonic()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_interval_s)

    async def _run(self, job: JobView) -> None:
        state = _Progress(job.progress_done, job.progress_total, job.progress_label, time.monotonic())
        me = asyncio.current_task()
        ticker = asyncio.create_task(self._tick(job.id, state, me))

        async def report(done: int, total: int, label: str) -> None:
            state.done, state.total, state.label = done, total, label
            await self._publish(job.id, state, me)

        try:
            try:
                summary = await self.runner.run(job, report)
                await run_io(self.store.finish, job.id, "done", summary=summary)
            except asyncio.CancelledError:
                if job.id not in self._user_cancelled:
                    # Shutdown, not the user: leave the job for the next start to resume.
                    await asyncio.shield(
                        run_io(self.store.requeue, job.id, "waiting to resume after a restart")
                    )
                    raise
                await run_io(self.store.finish, job.id, "cancelled", error=CANCELLED_MESSAGE)
            except JobFailed as exc:
                await run_io(self.store.finish, job.id, "failed", error=exc.user_message)
            except Exception:
                log.exception("summary job %s failed", job.id)
                await run_io(self.store.finish, job.id, "failed", error=UNEXPECTED)
            finally:
                ticker.cancel()
            self._announcing.add(job.id)
            await self._after(job.id)
        finally:
            # The job counts as running until its end was announced, so `stop()` waits for that.
            self._running.pop(job.id, None)
            self._announcing.discard(job.id)
            self._wake.set()

    async def _after(self, job_id: str) -> None:
        self._user_cancelled.discard(job_id)
        finished = await run_io(self.store.get, job_id)
        if finished is None or not finished.finished:
            return
        await run_io(self.staging.remove, job_id)
        # Marked shown, as a replica does in queue mode: a reopened chat never shows it twice.
        if not self.shows_results or not await run_io(self.store.claim_announcement, job_id):
            return
        try:
            await self.events.job_finished(finished)
        except Exception:  # the UI may be gone; the result is in the database either way
            log.exception("could not announce the end of job %s", job_id)

    async def _tick(self, job_id: str, state: _Progress, job_task: asyncio.Task[None] | None) -> None:
        while True:
            await asyncio.sleep(self.settings.progress_interval_s / 2)
            if time.monotonic() - state.last_published >= self.settings.progress_interval_s / 2:
                await self._publish(job_id, state, job_task)

    async def _publish(self, job_id: str, state: _Progress, job_task: asyncio.Task[None] | None) -> None:
        now = time.monotonic()
        self.max_progress_gap_s = max(self.max_progress_gap_s, now - state.last_published)
        state.last_published = now
        alive = await run_io(
            self.store.heartbeat, job_id, done=state.done, total=state.total, label=state.label
        )
        if not alive and job_task is not None and job_id not in self._user_cancelled:
            # Cancelled from another process (or request): stop the work here too.
            self._user_cancelled.add(job_id)
            job_task.cancel()
            return
        job = await run_io(self.store.get, job_id)
        if job is not None:
            try:
                await self.events.job_progress(job)
            except Exception:
                log.exception("could not show progress of job %s", job_id)
