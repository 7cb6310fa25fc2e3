"""A worker process's side of queued summaries: run procrastinate's tasks with `SummaryWorker`.

`confidante worker` builds the same services as the app (models, gate, database, knowledge base,
audit) and calls `serve_jobs`: procrastinate hands it one task per job id; `SummaryWorker.run_one`
claims the row (a job is run once, however many workers there are), runs it with its heartbeat and
progress, and writes the end into the row. Beside the queue, a recovery round re-queues jobs whose
worker died mid-way (stale heartbeat) and defers a task for any queued row that has none (a
replica that died between writing the row and deferring it), so a job is never silently lost.
It never shows anything to a user: the replicas read the rows and do that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate

from assistant.executors import run_background, run_io
from assistant.uploads import queue_app
from assistant.uploads.worker import SummaryWorker

log = logging.getLogger(__name__)
# A stopped worker gives its running jobs this long to end, then cancels them: they go back to the
# queue and resume from their last finished step in another worker (never lost, never waited on
# for the minutes a long summary can take).
SHUTDOWN_GRACE_S = 10.0


async def serve_jobs(
    worker: SummaryWorker,
    database_url: str | None,
    *,
    name: str = "summaries",
    signals: bool = True,
    grace_s: float = SHUTDOWN_GRACE_S,
) -> None:
    """Run summary tasks until cancelled (or SIGTERM/SIGINT, through procrastinate's handlers;
    `signals=False` when the caller's own loop owns the signals, as in tests)."""
    await run_background(queue_app.ensure_schema, database_url)
    # Each running job reports through the pool; the fetch loop and heartbeat take the rest.
    connections = worker.settings.concurrency + 3
    app = queue_app.queue_app(database_url, run=worker.run_one, max_connections=connections)
    async with app.open_async():
        recovery = asyncio.create_task(recover_forever(app, worker), name="upload-job-recovery")
        try:
            await app.run_worker_async(
                queues=[queue_app.QUEUE],
                name=name,
                concurrency=worker.settings.concurrency,
                # Workers that run long model calls: the queue's fallback poll, LISTEN/NOTIFY first.
                fetch_job_polling_interval=worker.settings.poll_interval_s,
                delete_jobs="successful",
                install_signal_handlers=signals,
                shutdown_graceful_timeout=grace_s,
            )
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery


async def recover_forever(app: procrastinate.App, worker: SummaryWorker) -> None:
    interval = worker.settings.stale_after_s / 2
    while True:
        try:
            await recover_once(app, worker)
        except Exception:  # the database may be restarting; the next round tries again
            log.exception("summary job recovery failed")
        await asyncio.sleep(interval)


async def recover_once(app: procrastinate.App, worker: SummaryWorker) -> list[str]:
    """Re-queue dead workers' jobs and defer a task for every queued row; the ids deferred."""
    await run_background(worker.recover)
    deferred = []
    for job_id in await run_io(worker.store.queued_ids):
        if await queue_app.defer(app, job_id):
            deferred.append(job_id)
    return deferred
