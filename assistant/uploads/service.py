"""`UploadService`: the one object the app holds for uploads (intake, jobs, the worker).

Built once at start-up by `build_upload_service` from the settings tree and the services that
already exist (models, privacy, the database engine, the knowledge base); started and stopped with
the app. It never loads a model or opens a database itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine

from assistant.executors import run_io
from assistant.privacy import Privacy
from assistant.uploads.intake import IncomingFile, IntakeReply, UploadIntake
from assistant.uploads.jobs import JobStore, JobView
from assistant.uploads.runner import BudgetCheck, DocumentIndex, SummaryJobRunner, UploadCallObserver
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging
from assistant.uploads.worker import JobEvents, SummaryWorker
from knowledge.settings import ParsingSettings

if TYPE_CHECKING:
    from assistant.uploads.queue_client import QueuedJobs


class UploadService:
    def __init__(self, *, intake: UploadIntake, store: JobStore, worker: SummaryWorker | QueuedJobs) -> None:
        self.intake = intake
        self.store = store
        self.worker = worker

    @property
    def settings(self) -> UploadSettings:
        return self.intake.settings

    async def start(self) -> None:
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()

    def set_events(self, events: JobEvents) -> None:
        self.worker.events = events

    async def accept_files(
        self, files: Sequence[IncomingFile], *, owner: str, thread_id: str
    ) -> list[IntakeReply]:
        """Check, parse and queue each file; one reply per file, in order."""
        limit = self.settings.max_files_per_message
        replies = [await self.intake.accept(f, owner=owner, thread_id=thread_id) for f in files[:limit]]
        replies += self.intake.too_many([f.name for f in files[limit:]])
        await self.worker.submit([r.job_id for r in replies if r.accepted and r.job_id is not None])
        return replies

    async def cancel(self, job_id: str, owner: str) -> JobView | None:
        return await self.worker.cancel(job_id, owner)

    async def jobs_for_thread(self, thread_id: str, owner: str) -> list[JobView]:
        """The owner's jobs of this thread (read only; `follow` them to be told their news)."""
        return await run_io(self.store.for_thread, thread_id, owner)

    def follow(self, jobs: Sequence[JobView]) -> None:
        """Follow these jobs from here on (their chat was reopened here): progress of the
        unfinished ones, and the result of any whose end nobody has shown yet. Call it once the
        chat shows them, so no news arrives before there is a place to show it."""
        for job in jobs:
            self.worker.follow(job)


def staging_root(settings: UploadSettings, data_dir: Any) -> Any:
    """Where parsed uploads wait for their job: the shared directory when one is named."""
    from pathlib import Path

    return Path(settings.shared_dir or data_dir) / "uploads"


def build_upload_service(
    *,
    settings: UploadSettings,
    parsing: ParsingSettings,
    engine: Engine,
    data_dir: Any,
    models: Any,
    privacy: Privacy,
    index: DocumentIndex | None,
    events: JobEvents | None = None,
    on_call: UploadCallObserver | None = None,
    budgets: BudgetCheck | None = None,
    role: Literal["app", "worker"] = "app",
) -> UploadService:
    """Wire intake, store, runner and worker. `models` is the pipeline's `ModelSet`.

    The app runs jobs itself unless `settings.queue` names a queue; a `worker` process always runs
    them (it is what `confidante worker` builds)."""
    store = JobStore(engine)
    staging = Staging(staging_root(settings, data_dir))
    intake = UploadIntake(settings=settings, parsing=parsing, privacy=privacy, store=store, staging=staging)
    if role == "app" and settings.queue == "procrastinate":
        from assistant.uploads.queue_client import QueuedJobs

        # The queue lives in the app's own database (procrastinate needs it to be PostgreSQL).
        database_url = engine.url.render_as_string(hide_password=False)
        queued = QueuedJobs(store, staging, settings, database_url, events)
        return UploadService(intake=intake, store=store, worker=queued)
    runner = SummaryJobRunner(
        store=store,
        staging=staging,
        models=models,
        privacy=privacy,
        index=index,
        settings=settings,
        on_call=on_call,
        budgets=budgets,
    )
    worker = SummaryWorker(store, runner, staging, settings, events, shows_results=role == "app")
    return UploadService(intake=intake, store=store, worker=worker)
