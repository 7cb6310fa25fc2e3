"""The procrastinate app that carries summary jobs between app replicas and worker processes.

Used when `uploads.queue = "procrastinate"`: procrastinate (an established job queue on
PostgreSQL, the app's own database) holds one task per summary job, named `TASK` on the queue
`QUEUE`, whose only argument is our job id. The `upload_jobs` row stays the one source of truth
for status, progress, cancel and the result; procrastinate only decides which worker process runs
a job, and when. A task never carries document text, a file name or anything the user wrote.
This module never runs a summary and never touches a database other than the configured one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import procrastinate
import psycopg
from procrastinate import exceptions
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

TASK = "confidante.summarize_upload"
QUEUE = "uploads"
# Any fixed number: two replicas starting at once must not both create procrastinate's schema.
_SCHEMA_LOCK = 5_117_001


class QueueNotAvailable(RuntimeError):
    """The procrastinate queue needs PostgreSQL; the message names the setting to change."""


def conninfo(database_url: str | None) -> str:
    """libpq's URL for the app's SQLAlchemy URL (`postgresql+psycopg://…` → `postgresql://…`)."""
    if not database_url:
        raise QueueNotAvailable(
            "uploads.queue = procrastinate needs governance.database_url on PostgreSQL (it is SQLite)"
        )
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise QueueNotAvailable(
            f"uploads.queue = procrastinate needs PostgreSQL, not {url.get_backend_name()} "
            "(governance.database_url)"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def queue_app(
    database_url: str | None,
    run: Callable[[str], Awaitable[object]] | None = None,
    *,
    max_connections: int = 4,
) -> procrastinate.App:
    """The app; with `run`, the summary task is registered (worker processes), else only deferred.

    Its connection pool starts with one connection: every replica and worker holds one, and a
    PostgreSQL's connection limit is shared with the app's own pools."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url), min_size=1, max_size=max(1, max_connections)
    )
    app = procrastinate.App(connector=connector)
    if run is not None:

        @app.task(name=TASK, queue=QUEUE)
        async def summarize_upload(job_id: str) -> None:
            await run(job_id)

    return app


def ensure_schema(database_url: str | None) -> bool:
    """Create procrastinate's tables once (True when this call created them).

    Under an advisory lock, so replicas and workers starting together do not race; an existing
    schema is left alone (procrastinate's own migrations are an operator's step, not a start-up's).
    """
    with psycopg.connect(conninfo(database_url), autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            present = connection.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if present is not None and present[0] is not None:
                return False
            connection.execute(procrastinate.schema.SchemaManager.get_schema())
            log.info("created procrastinate's schema for summary jobs")
            return True
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


async def defer(app: procrastinate.App, job_id: str) -> bool:
    """Queue the task for `job_id`; False when one is already waiting (its queueing lock)."""
    try:
        await app.configure_task(TASK, queue=QUEUE, queueing_lock=job_id).defer_async(job_id=job_id)
    except exceptions.AlreadyEnqueued:
        return False
    return True
