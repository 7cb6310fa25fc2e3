"""Summaries under an experiment: the uploader's sticky variant of the running summaries experiment
shapes the job (map prompt version, batch size), names itself in every model call's audit record
(each step is labelled `map 3@VARIANT`, so the record reads `upload-summary/map 3@VARIANT`), and
the finished (or failed) job is stored as one experiment turn: time, cost and tokens from its
audit records, model calls, map steps and how many of them fell back to quoted sentences.

A variant never changes where a step may go: each map step is still routed by its own pages' tier
and batching never mixes tiers (`assistant.uploads.plan`). Nothing here may fail a summary: an
experiment that cannot be read gives the configured behaviour, and a failed record is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.experiments.models import TurnVariant
from assistant.experiments.prompts import DEFAULT_MAP_PROMPT
from assistant.experiments.store import ExperimentStore
from assistant.governance.tables import AuditRow, ExperimentTurnRow, as_utc, utcnow

if TYPE_CHECKING:
    from assistant.uploads.summarize import Summary

log = logging.getLogger(__name__)
# The prefix `GovernanceRecorder.on_upload_call` gives a summary call's prompt version.
SUMMARY_PROMPT_PREFIX = "upload-summary/"


@dataclass
class SummaryArm:
    """One job's variant (None: no summaries experiment running) and what it measured."""

    variant: TurnVariant | None = None
    owner: str = ""
    thread_id: str = ""
    recorder: SummaryExperiments | None = None
    started: datetime = field(default_factory=utcnow)

    @property
    def map_prompt(self) -> str:
        chosen = self.variant.variant.map_prompt if self.variant else None
        return chosen or DEFAULT_MAP_PROMPT

    @property
    def step_tag(self) -> str:
        """Appended to each step's name: `map 3@concise` (the audit's prompt version has 64 characters)."""
        return f"@{self.variant.variant.name}" if self.variant else ""

    def batch_map_tokens(self, default: int, *, limit: int) -> int:
        """The variant's batch size, never above the map step's input budget (`limit`)."""
        chosen = self.variant.variant.batch_map_tokens if self.variant else None
        return default if chosen is None else min(chosen, limit)

    async def measured(self, summary: Awaitable[Summary]) -> Summary:
        """Await the summary and record the job's facts under the variant, also when it fails."""
        try:
            result = await summary
        except Exception:
            self._record(None, "error")
            raise
        self._record(result, "ok")
        return result

    def _record(self, summary: Summary | None, outcome: str) -> None:
        if self.variant is not None and self.recorder is not None:
            self.recorder.record(self, summary, outcome)


class SummaryExperiments:
    """Assignment and measurement of summary jobs (`SummaryJobRunner` holds one)."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine
        self._store = ExperimentStore(engine) if engine is not None else None

    def arm_for(self, owner: str, thread_id: str) -> SummaryArm:
        variant = None
        if self._store is not None:
            try:
                variant = self._store.variant_for(owner, "summaries")
            except Exception:  # an experiment must never break a summary: run it as configured
                log.exception("could not read the running summaries experiment")
        return SummaryArm(variant=variant, owner=owner, thread_id=thread_id, recorder=self)

    def record(self, arm: SummaryArm, summary: Summary | None, outcome: str) -> None:
        if self._store is None or arm.variant is None:
            return
        try:
            self._store.record_turn(self._row(arm, summary, outcome))
        except Exception:  # measuring must never fail the job
            log.exception("summary experiment: job not recorded")

    def _row(self, arm: SummaryArm, summary: Summary | None, outcome: str) -> ExperimentTurnRow:
        assert arm.variant is not None
        ended = utcnow()
        calls = self._calls(arm, ended)
        return ExperimentTurnRow(
            experiment_id=arm.variant.experiment_id,
            variant=arm.variant.variant.name,
            user_id=arm.owner,
            thread_id=arm.thread_id,
            started_at=arm.started,
            ended_at=ended,
            outcome=outcome,
            latency_ms=(ended - arm.started).total_seconds() * 1000,
            cost_usd=sum(row.cost_usd for row in calls),
            prompt_tokens=sum(row.prompt_tokens for row in calls),
            completion_tokens=sum(row.completion_tokens for row in calls),
            model_calls=summary.model_calls if summary is not None else len(calls),
            map_steps=summary.map_steps if summary is not None else None,
            quoted_steps=summary.step_writers.count("quote") if summary is not None else None,
        )

    def _calls(self, arm: SummaryArm, ended: datetime) -> list[AuditRow]:
        """The job's model-call records: its thread, its time span, its variant's step tag."""
        assert self._engine is not None
        query = select(AuditRow).where(AuditRow.kind == "model_call", AuditRow.thread_id == arm.thread_id)
        with Session(self._engine) as session:
            rows = session.exec(query.order_by(col(AuditRow.seq))).all()
        return [
            row
            for row in rows
            if arm.started <= as_utc(row.occurred_at) <= ended
            and (row.prompt_template_version or "").startswith(SUMMARY_PROMPT_PREFIX)
            and (row.prompt_template_version or "").endswith(arm.step_tag)
        ]
