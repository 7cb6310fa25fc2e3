"""`confidante worker`: a separate process that runs upload summaries from the job queue.

For deployments with `uploads.queue = "procrastinate"`: any number of these run beside the app
replicas, on the same settings (database, Chroma server, private model server, shared directory).
It builds the app's own services, so every model call of a summary goes through the same gate,
routes, audit trail and budgets as in the app. It refuses to start on settings it cannot share
with the replicas (SQLite, the embedded vector store) instead of quietly using a private copy.
"""

from __future__ import annotations

import asyncio

import click

from assistant.settings import Settings


def sharing_problem(settings: Settings) -> str | None:
    """Why these settings cannot run a worker beside the app (None when they can)."""
    if settings.uploads.queue != "procrastinate":
        return "the worker runs queued summaries: set uploads.queue = procrastinate"
    if not (settings.governance.database_url or "").startswith("postgresql"):
        return "the worker needs the app's PostgreSQL database: set governance.database_url"
    if settings.knowledge.enabled and settings.knowledge.chroma.mode != "http":
        return "the embedded vector store belongs to the app: set knowledge.chroma.mode = http"
    return None


@click.command("worker")
@click.option("--name", default="summaries", help="This worker's name in procrastinate's tables.")
def worker(name: str) -> None:
    """Run upload summaries from the job queue (uploads.queue = procrastinate)."""
    from assistant.cli import configure_logging, settings_or_exit

    settings = settings_or_exit()
    problem = sharing_problem(settings)
    if problem is not None:
        click.echo(f"confidante: {problem}", err=True)
        raise SystemExit(2)
    configure_logging(settings)
    asyncio.run(_work(settings, name))


async def _work(settings: Settings, name: str) -> None:
    from assistant.services import build_services, build_uploads
    from assistant.uploads.queue_worker import serve_jobs
    from assistant.uploads.worker import SummaryWorker

    services = build_services(settings)
    try:
        uploads = build_uploads(services, role="worker")
        assert isinstance(uploads.worker, SummaryWorker)
        click.echo(f"confidante worker {name}: waiting for summary jobs", err=True)
        await serve_jobs(uploads.worker, settings.governance.database_url, name=name)
    finally:
        services.close()
