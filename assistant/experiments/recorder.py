"""Recording turns that ran under a variant: the facts the metrics need, and the audit's note.

`ExperimentRecorder` is a turn observer: after each turn with a variant it stores numbers and
flags only (outcome, escalation, whether the message corrected the previous one, unsupported
sentences, latency, cost, tokens, model calls), never message text. A turn that got as far as
deciding on tools also counts for the running tools experiment under its tools variant
(`TurnResult.tools_variant`, the one `ExperimentTools` applied: the same sticky hash). Replayed
turns (`eval replay`) are marked as such, here and in the audit trail, and never count for a tools
experiment. Like every observer, it must never raise into a turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from assistant.experiments.corrections import judge_follow_up
from assistant.experiments.metrics import TurnFacts
from assistant.experiments.models import TurnVariant
from assistant.experiments.store import facts_of
from assistant.governance.tables import ExperimentTurnRow, utcnow
from models.base import ChatMessage

if TYPE_CHECKING:
    from assistant.experiments.store import ExperimentStore
    from assistant.settings import Settings
    from assistant.turns import Conversation, TurnResult
    from routing.routed import CallRecord

REPLAY_USER = "replay"
REPLAY_THREAD_PREFIX = "replay-"


def is_replay(conversation: Conversation) -> bool:
    return conversation.id.startswith(REPLAY_THREAD_PREFIX)


def audit_note(conversation: Conversation, result: TurnResult) -> str:
    """What the turn's routing-decision record adds to its detail: the variants, and replay."""
    notes = [f"variant {result.variant.label}"] if result.variant else []
    notes += [f"tools variant {result.tools_variant.label}"] if result.tools_variant else []
    if is_replay(conversation):
        notes.append("replay")
    return "".join(f"; {note}" for note in notes)


def prompt_template_of(result: TurnResult, default: str) -> str:
    return result.variant.variant.prompt_template if result.variant else default


def previous_question(history: Sequence[ChatMessage], current: str) -> str | None:
    """The user's message before `current` in this conversation (None for a first message)."""
    asked = [m.content for m in history if m.role == "user"]
    if asked and asked[-1] == current:
        asked = asked[:-1]
    return asked[-1] if asked else None


class ExperimentRecorder:
    """A `TurnObserver` storing one `ExperimentTurnRow` per turn that ran under a variant.

    With `keep`, it also keeps each turn's facts in `facts` (what a replay computes its figures from).
    """

    def __init__(self, store: ExperimentStore | None, settings: Settings, *, keep: bool = False) -> None:
        self._store = store
        self._settings = settings
        self._keep = keep
        self.facts: list[TurnFacts] = []

    def on_turn(
        self, conversation: Conversation, user_text: str, result: TurnResult, calls: Sequence[CallRecord]
    ) -> None:
        if result.variant is not None:
            row = self._row(result.variant, conversation, user_text, result, calls)
            if self._keep:
                self.facts.append(facts_of(row))
            if self._store is not None:
                self._store.record_turn(row)
        tools = result.tools_variant
        if tools is not None and self._store is not None and not is_replay(conversation):
            self._store.record_turn(self._row(tools, conversation, user_text, result, calls))

    def _row(
        self,
        variant: TurnVariant,
        conversation: Conversation,
        user_text: str,
        result: TurnResult,
        calls: Sequence[CallRecord],
    ) -> ExperimentTurnRow:
        previous = previous_question(conversation.history, user_text)
        ended = utcnow()
        confidence = result.confidence
        return ExperimentTurnRow(
            experiment_id=variant.experiment_id,
            variant=variant.variant.name,
            user_id=conversation.principal.user_id,
            thread_id=conversation.id,
            replay=is_replay(conversation),
            started_at=ended - timedelta(milliseconds=result.latency_ms),
            ended_at=ended,
            outcome=result.outcome,
            escalated=result.escalation_id is not None or result.outcome == "escalated",
            corrects_previous=previous is not None and judge_follow_up(previous, user_text).corrects,
            unsupported_sentences=confidence.unsupported_sentences if confidence else None,
            latency_ms=result.latency_ms,
            cost_usd=self._cost(calls),
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            model_calls=len(calls),
        )

    def _cost(self, calls: Sequence[CallRecord]) -> float:
        from assistant.pipeline import call_cost

        return sum(
            call_cost(
                self._settings,
                kind=call.kind,
                model=call.model,
                prompt_tokens=call.usage_prompt,
                completion_tokens=call.usage_completion,
            )
            for call in calls
        )
