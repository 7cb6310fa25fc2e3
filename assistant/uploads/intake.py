"""Upload intake: from a file the browser sent to "Got it…" or a one-sentence reason, within ~30 s.

The server re-checks everything the browser claims: the name is sanitized (path parts, NUL,
bidi overrides, 10 kB names) and only ever displayed; size, emptiness and type-by-content are
checked; parsing runs in the knowledge engineer's sandboxed child process (CPU, memory and time
limits) from a worker thread, so the event loop keeps serving everyone else. The file name and
metadata are classified by the gate like the text, and as many pages as the time budget allows;
the job classifies the rest before any model sees them. A hostile file costs one bounded parse
and produces one sentence; it never raises into the chat handler.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from assistant.executors import run_background, run_interactive, run_io
from assistant.privacy import Privacy
from assistant.uploads.jobs import JobStore
from assistant.uploads.rendering import accepted_message, rejected_message
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import StagedDocument, Staging
from knowledge.parsing import DocumentRejected, ParsedDocument, parse_document_safely, safe_display_name
from knowledge.settings import ParsingSettings
from routing.tiers import Tier, highest

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file as the UI received it: a server-side path we read, and the client's name (untrusted)."""

    path: Path
    name: str | None


class IntakeReply(BaseModel):
    model_config = ConfigDict(frozen=True)

    accepted: bool
    display_name: str
    message: str
    job_id: str | None = None
    tier: Tier | None = None
    pages: int | None = None
    # The refusal's code (e.g. "encrypted", "too_large") for tests and the audit trail.
    code: str | None = None


def upload_parsing_settings(base: ParsingSettings, settings: UploadSettings) -> ParsingSettings:
    """The knowledge parser's limits, tightened to the upload limits."""
    return base.model_copy(
        update={
            "max_file_bytes": min(base.max_file_bytes, settings.max_file_bytes),
            "max_pages": min(base.max_pages, settings.max_pages),
            "timeout_s": min(base.timeout_s, settings.parse_timeout_s),
        }
    )


class UploadIntake:
    def __init__(
        self,
        *,
        settings: UploadSettings,
        parsing: ParsingSettings,
        privacy: Privacy,
        store: JobStore,
        staging: Staging,
    ) -> None:
        self.settings = settings
        self.parsing = upload_parsing_settings(parsing, settings)
        self.privacy = privacy
        self.store = store
        self.staging = staging
        # Bounds the parser children, so a burst of uploads cannot starve the machine (2 cores).
        self._parses = asyncio.Semaphore(settings.max_parallel_parses)

    async def accept(self, incoming: IncomingFile, *, owner: str, thread_id: str) -> IntakeReply:
        name = safe_display_name(incoming.name)
        try:
            async with self._parses:
                parsed = await run_background(self._parse, incoming.path, name)
        except DocumentRejected as exc:
            log.info("upload %r refused: %s", name, exc.detail)
            return self._refuse(name, exc.user_message, exc.code)
        except Exception:
            log.exception("upload %r could not be parsed", name)
            return self._refuse(name, "I couldn't read this file.", "error")
        staged = await self._classify(parsed)
        job = await run_io(
            self.store.create, owner=owner, thread_id=thread_id, display_name=name,
            tier=staged.tier_so_far.value, page_count=parsed.page_count, total=len(parsed.sections),
        )  # fmt: skip
        await run_io(self.staging.save, job.id, staged)
        tier = staged.tier_so_far
        message = accepted_message(
            name, parsed.page_count, len(parsed.sections), tier.value, staged.fully_classified
        )
        return IntakeReply(
            accepted=True,
            display_name=name,
            message=message,
            job_id=job.id,
            tier=tier,
            pages=parsed.page_count,
        )

    def too_many(self, names: list[str | None]) -> list[IntakeReply]:
        limit = self.settings.max_files_per_message
        reason = f"Only {limit} files per message are accepted, so I skipped this one."
        return [self._refuse(safe_display_name(name), reason, "too_many_files") for name in names]

    def _parse(self, path: Path, name: str) -> ParsedDocument:
        # Checked here as well as in the parser: nothing the browser claimed is trusted.
        if not path.is_file():
            raise DocumentRejected(
                "upload vanished", user_message="The upload did not arrive completely; please try again."
            )
        return parse_document_safely(path, display_name=name, settings=self.parsing)

    async def _classify(self, parsed: ParsedDocument) -> StagedDocument:
        meta = "\n".join(
            [parsed.display_name, parsed.title, *(v for k, v in parsed.metadata.items() if k != "pages")]
        )
        meta_tier = (await run_interactive(self.privacy.assess, meta, source="file name and metadata")).tier
        tiers: list[Tier | None] = [None] * len(parsed.sections)
        deadline = time.monotonic() + self.settings.intake_classify_budget_s
        for index, section in enumerate(parsed.sections):
            if time.monotonic() > deadline:
                break
            tiers[index] = (await run_interactive(self.privacy.assess, section.text, source="upload")).tier
        return StagedDocument(parsed=parsed, section_tiers=tuple(tiers), meta_tier=highest(meta_tier))

    def _refuse(self, name: str, reason: str, code: str) -> IntakeReply:
        return IntakeReply(
            accepted=False, display_name=name, message=rejected_message(name, reason), code=code
        )
