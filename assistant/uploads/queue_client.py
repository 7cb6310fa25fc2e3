"""An app replica's side of queued summaries: defer each job, follow it, show it to its user.

With `uploads.queue = "procrastinate"` this takes the place of `SummaryWorker` in the app: the
upload handler still writes the job row and stages the parsed file (in the shared directory); this
defers a procrastinate task naming the job, and `confidante worker` processes run it. Progress
comes back through the database: every `follow_interval_s` the replica reads the rows of the jobs
it shows (accepted here, or reopened here after the user moved replicas) and passes changes to the
same `JobEvents` the in-process worker uses. Exactly one replica shows a job's result
(`JobStore.claim_announcement`), and a replica where the user has the chat open claims first: one
whose session is gone (the tab closed, the user reopened the chat on another replica) waits
`announce_grace_s` before claiming, then writes the result into the thread. Cancel writes the flag
into the row; the worker running the job stops at its next heartbeat. This module never runs a
model and never reads the staged file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import procrastinate

from assistant.executors import run_background, run_io
from assistant.uploads import queue_app
from assistant.uploads.jobs import ANNOUNCED, JobStore, JobView
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging
from assistant.uploads.worker import JobEvents, JobViewers, NoEvents

log = logging.getLogger(__name__)


class QueuedJobs:
    def __init__(
        self,
        store: JobStore,
        staging: Staging,
        settings: UploadSettings,
        database_url: str | None,
        events: JobEvents | None = None,
    ) -> None:
        self.store = store
        self.staging = staging
        self.settings = settings
        self.database_url = database_url
        self.events: JobEvents = events or NoEvents()
        self.app: procrastinate.App = queue_app.queue_app(database_url)
        # Followed job id -> the `updated_at` last shown, so an unchanged row is not re-sent.
        self._followed: dict[str, datetime | None] = {}
        # Followed job id -> when this replica first saw it ended with nobody watching it here.
        self._ended_unwatched: dict[str, float] = {}
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        await run_background(queue_app.ensure_schema, self.database_url)
        await self.app.open_async()
        self._loop_task = asyncio.create_task(self._loop(), name="upload-job-follower")

    async def stop(self) -> None:
        if self._loop_task is None:
            return
        self._loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._loop_task
        self._loop_task = None
        await self.app.close_async()

    @property
    def busy(self) -> bool:
        return bool(self._followed)

    def wake(self) -> None:
        """Nothing to wake here: the workers listen to the queue."""

    def follow(self, job: JobView) -> None:
        """Show this job's progress and end here; an end already shown (by anyone) is skipped."""
        if job.finished and job.progress_label == ANNOUNCED:
            return
        self._followed.setdefault(job.id, None)

    async def submit(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            self._followed.setdefault(job_id, None)
            await queue_app.defer(self.app, job_id)

    async def cancel(self, job_id: str, owner: str) -> JobView | None:
        """Flag the owner's job; a queued one ends now, a running one at the worker's next beat."""
        job = await run_io(self.store.request_cancel, job_id, owner)
        if job is None:
            return None
        self._followed.setdefault(job_id, None)
        if job.finished:
            await run_io(self.staging.remove, job_id)
            await self._check(job_id)
        return await run_io(self.store.get, job_id)

    async def wait_for(self, job_id: str, timeout_s: float) -> JobView:
        """Wait until a job has ended and its end was shown (tests, the bench and the CLI)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = await run_io(self.store.get, job_id)
            if job is None:
                raise LookupError(job_id)
            if (job.finished and job_id not in self._followed) or time.monotonic() > deadline:
                return job
            await asyncio.sleep(0.2)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.follow_interval_s)
            for job_id in list(self._followed):
                try:
                    await self._check(job_id)
                except Exception:  # a database hiccup: try again at the next round
                    log.exception("could not read the state of job %s", job_id)

    async def _check(self, job_id: str) -> None:
        job = await run_io(self.store.get, job_id)
        if job is None:
            self._followed.pop(job_id, None)
            return
        if job.finished:
            if not self._may_show_end(job_id):
                return
            shown = await run_io(self.store.claim_announcement, job_id)
            self._followed.pop(job_id, None)
            self._ended_unwatched.pop(job_id, None)
            if shown:
                await self._tell(self.events.job_finished, job)
            return
        if self._followed.get(job_id) != job.updated_at:
            self._followed[job_id] = job.updated_at
            await self._tell(self.events.job_progress, job)

    def _may_show_end(self, job_id: str) -> bool:
        """At once where the user is watching; elsewhere only after the grace period.

        The claim is first come, first served: without this, a replica holding a closed tab's
        session won half the races and wrote the result where nobody saw it until a reload."""
        if not isinstance(self.events, JobViewers) or self.events.watching(job_id):
            return True
        first_seen = self._ended_unwatched.setdefault(job_id, time.monotonic())
        return time.monotonic() - first_seen >= self.settings.announce_grace_s

    async def _tell(self, event: Callable[[JobView], Awaitable[None]], job: JobView) -> None:
        try:
            await event(job)
        except Exception:  # the UI may be gone; the job's state is in the database either way
            log.exception("could not show the state of job %s", job.id)
