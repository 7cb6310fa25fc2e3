"""What one summary job does, start to finish (or from where a previous run stopped).

1. finish classifying the staged document (pages the upload handler had no time for);
2. index it in the knowledge base as the uploader's private document (owner-only ACL);
3. map → reduce (`summarize`), persisting each finished map step in the job row;
4. render the summary as chat markdown.
Each step is skipped when a previous run of the same job already did it. A user over their daily
budget cannot start (or resume) a summary; every model call is reported with the uploader's id so
it is charged to them. This module never decides routes itself: `TierRouter` does, per step,
from the tiers computed here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from assistant.executors import run_background, run_io
from assistant.experiments.summaries import SummaryExperiments
from assistant.identity import Principal
from assistant.privacy import Privacy
from assistant.uploads.jobs import JobStore, JobView
from assistant.uploads.plan import plan_groups
from assistant.uploads.rendering import render_summary
from assistant.uploads.routed_calls import TierRouter
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import StagedDocument, Staging
from assistant.uploads.summarize import MapResult, Summarizer
from knowledge.parsing.documents import ParsedDocument
from knowledge.registry import document_id_for
from routing.routed import CallRecord
from routing.tiers import Tier

log = logging.getLogger(__name__)
Report = Callable[[int, int, str], Awaitable[None]]


class DocumentIndex(Protocol):
    """What the job needs from the knowledge base (`knowledge.knowledge_base.KnowledgeBase`)."""

    def ingest_parsed(
        self,
        parsed: ParsedDocument,
        *,
        doc_id: str,
        source: str,
        owner: str,
        groups: Sequence[str],
        public: bool,
        section_tiers: Sequence[Tier] | None = None,
    ) -> Any: ...


class UploadCallObserver(Protocol):
    """Receives every model call of a summary, with whom to charge it (audit, budget, metrics)."""

    def __call__(self, call: CallRecord, *, user_id: str, thread_id: str) -> None: ...


class BudgetCheck(Protocol):
    """Per-user daily budgets: None when the user may go on, else the sentence to show them."""

    def allows(self, principal: Principal) -> str | None: ...


class JobFailed(Exception):
    """The job cannot finish; `user_message` is one sentence for the chat."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def upload_source(owner: str, job_id: str) -> str:
    """The knowledge-base source key of an upload: per owner and job, never the file name."""
    return f"upload:{owner}/{job_id}"


class SummaryJobRunner:
    def __init__(
        self,
        *,
        store: JobStore,
        staging: Staging,
        models: Any,
        privacy: Privacy,
        index: DocumentIndex | None,
        settings: UploadSettings,
        on_call: UploadCallObserver | None = None,
        budgets: BudgetCheck | None = None,
        experiments: SummaryExperiments | None = None,
    ) -> None:
        self.store = store
        self.staging = staging
        self.models = models
        self.privacy = privacy
        self.index = index
        self.settings = settings
        self.on_call = on_call
        self.budgets = budgets
        # The running summaries experiment (issue 18), read from the jobs' own database.
        self.experiments = experiments or SummaryExperiments(getattr(store, "engine", None))
        # Set after each run, for benches and tests: how many model calls the last summary made.
        self.last_calls = 0

    async def run(self, job: JobView, report: Report) -> str:
        staged = self.staging.load(job.id)
        if staged is None:
            raise JobFailed(
                "The uploaded file is no longer here, so I couldn't summarize it; please upload it again."
            )
        refusal = self.budgets.allows(Principal(user_id=job.owner)) if self.budgets else None
        if refusal:
            raise JobFailed(refusal)
        arm = self.experiments.arm_for(job.owner, job.thread_id)
        batch = arm.batch_map_tokens(self.settings.batch_map_tokens, limit=self.settings.map_input_tokens)
        staged = await self._classify_rest(job, staged, report)
        tiers = [tier or Tier.REGULATED for tier in staged.section_tiers]
        self.store.set_fields(job.id, tier=staged.tier_so_far.value)
        if job.document_id is None and self.index is not None:
            await report(0, 1, "indexing the document")
            document_id = await self._index(job, staged.parsed, tiers)
            self.store.set_fields(job.id, document_id=document_id)
        sections = staged.parsed.sections
        groups = plan_groups(
            sections, tiers, self.settings.max_map_calls,
            fill_tokens=batch, count_tokens=self.models.local.count_tokens,
        )  # fmt: skip
        router = TierRouter(
            self.models, self.privacy, max_calls=self.settings.max_model_calls,
            busy_retries=self.settings.busy_retries, on_call=self._call_observer(job),
        )  # fmt: skip
        summarizer = Summarizer(
            router, self.settings, self.models.local.count_tokens, map_prompt=arm.map_prompt,
            step_tag=arm.step_tag,
        )  # fmt: skip
        finished = {int(s["index"]): MapResult.model_validate(s) for s in self.store.steps(job.id)}

        async def step_done(result: MapResult) -> None:
            await run_io(self.store.add_step, job.id, result.model_dump(mode="json"))

        summary = await arm.measured(summarizer.summarize(
            title=staged.parsed.title, sections=sections, groups=groups, meta_tier=staged.meta_tier,
            finished=finished, progress=report, step_done=step_done,
        ))  # fmt: skip
        self.last_calls = router.calls_made
        return render_summary(summary, display_name=job.display_name, pages=staged.parsed.page_count,
                              local_model=self.models.local.name, sections=sections)  # fmt: skip

    def _call_observer(self, job: JobView) -> Callable[[CallRecord], None] | None:
        """The router's hook, bound to the job's owner and thread: whom each call is charged to."""
        observer = self.on_call
        if observer is None:
            return None

        def observe(call: CallRecord) -> None:
            observer(call, user_id=job.owner, thread_id=job.thread_id)

        return observe

    async def _classify_rest(self, job: JobView, staged: StagedDocument, report: Report) -> StagedDocument:
        tiers = list(staged.section_tiers)
        missing = [i for i, tier in enumerate(tiers) if tier is None]
        for done, index in enumerate(missing):
            await report(
                done, len(missing), f"checking part {index + 1} of {len(tiers)} for sensitive content"
            )
            text = staged.parsed.sections[index].text
            assessment = await run_background(self.privacy.assess, text, source="upload")
            tiers[index] = assessment.tier
            if done % 10 == 9 or done == len(missing) - 1:
                staged = staged.model_copy(update={"section_tiers": tuple(tiers)})
                self.staging.save(job.id, staged)
        return staged.model_copy(update={"section_tiers": tuple(tiers)})

    async def _index(self, job: JobView, parsed: ParsedDocument, tiers: Sequence[Tier]) -> str:
        """Index with the tiers already computed per section: the gate does not run twice."""
        source = upload_source(job.owner, job.id)
        assert self.index is not None
        result = await run_background(
            self.index.ingest_parsed, parsed, doc_id=document_id_for(source), source=source,
            owner=job.owner, groups=(), public=False, section_tiers=tiers,
        )  # fmt: skip
        if getattr(result, "status", "failed") in ("rejected", "failed"):
            raise JobFailed(getattr(result, "reason", None) or "I couldn't index this document.")
        return str(result.doc_id)
