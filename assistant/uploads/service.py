"""`UploadService`: the one object the app holds for uploads (intake, jobs, the worker).

Built once at start-up by `build_upload_service` from the settings tree and the services that
already exist (models, privacy, the database engine, the knowledge base); started and stopped with
the app. It never loads a model or opens a database itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from assistant.privacy import Privacy
from assistant.uploads.intake import IncomingFile, IntakeReply, UploadIntake
from assistant.uploads.jobs import JobStore, JobView
from assistant.uploads.runner import BudgetCheck, DocumentIndex, SummaryJobRunner, UploadCallObserver
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging
from assistant.uploads.worker import JobEvents, SummaryWorker
from knowledge.settings import ParsingSettings


class UploadService:
    def __init__(self, *, intake: UploadIntake, store: JobStore, worker: SummaryWorker) -> None:
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
        if any(reply.accepted for reply in replies):
            self.worker.wake()
        return replies

    async def cancel(self, job_id: str, owner: str) -> JobView | None:
        return await self.worker.cancel(job_id, owner)

    async def jobs_for_thread(self, thread_id: str, owner: str) -> list[JobView]:
        return await asyncio.to_thread(self.store.for_thread, thread_id, owner)


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
) -> UploadService:
    """Wire intake, store, runner and worker. `models` is the pipeline's `ModelSet`."""
    from pathlib import Path

    store = JobStore(engine)
    staging = Staging(Path(data_dir) / "uploads")
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
    worker = SummaryWorker(store, runner, staging, settings, events)
    intake = UploadIntake(settings=settings, parsing=parsing, privacy=privacy, store=store, staging=staging)
    return UploadService(intake=intake, store=store, worker=worker)
