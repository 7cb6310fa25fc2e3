"""Offline replay: a question file through each variant of an experiment, with the real pipeline.

No user is touched: every turn runs as the replay principal in a fresh `replay-…` conversation
that is never stored as a chat, opens no escalation, is not cached and charges no budget, and its
audit records say "replay" and name the variant. The figures come from this run's turns only,
with the same metrics and formatting as the console.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from assistant.experiments.metrics import VariantMetrics, compare
from assistant.experiments.models import Capability, Experiment, TurnVariant
from assistant.experiments.recorder import REPLAY_THREAD_PREFIX, REPLAY_USER, ExperimentRecorder
from assistant.identity import Principal
from assistant.pipeline import ChatPipeline
from assistant.turns import Conversation, TurnResult

if TYPE_CHECKING:
    from assistant.experiments.store import ExperimentStore
    from assistant.services import Services

REPLAY_PRINCIPAL = Principal(user_id=REPLAY_USER)


class ReplayQuestion(BaseModel):
    """One line of QUESTIONS.jsonl: a question, and optionally follow-ups asked in the same chat."""

    model_config = ConfigDict(extra="ignore")

    question: str = Field(min_length=1)
    follow_ups: tuple[str, ...] = ()


class FixedVariant:
    """A `VariantSource` that gives every turn the same variant (replay chooses, not the hash)."""

    def __init__(self, variant: TurnVariant) -> None:
        self._variant = variant

    def variant_for(self, user_id: str, capability: Capability) -> TurnVariant | None:
        return self._variant


def read_questions(path: Path) -> list[ReplayQuestion]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ReplayQuestion.model_validate(json.loads(line)) for line in lines if line.strip()]


def replay_pipeline(services: Services, variant: TurnVariant, recorder: ExperimentRecorder) -> ChatPipeline:
    """The app's models, gate and knowledge base and its audit recorder; no escalations, no cache,
    no budget charges; the variant fixed."""
    turn_services = dataclasses.replace(
        services.pipeline.services,
        experiments=FixedVariant(variant),
        escalations=None,
        cache=None,
        budgets=None,
    )
    observers = [o for o in (services.recorder, recorder) if o is not None]
    return ChatPipeline(
        settings=services.settings,
        models=services.models,
        privacy=services.privacy,
        observers=observers,
        services=turn_services,
    )


async def _one_turn(pipeline: ChatPipeline, conversation: Conversation, text: str) -> TurnResult:
    result: TurnResult | None = None
    async for event in pipeline.run(conversation, text):
        if isinstance(event, TurnResult):
            result = event
    if result is None:  # the pipeline always ends with a result
        raise RuntimeError("a replayed turn ended without a result")
    return result


async def replay(
    services: Services,
    experiment: Experiment,
    variant_names: Sequence[str],
    questions: Sequence[ReplayQuestion],
    *,
    store: ExperimentStore | None = None,
    min_n: int,
) -> list[VariantMetrics]:
    """Every question (and its follow-ups, in one chat) through each named variant in turn."""
    recorder = ExperimentRecorder(store, services.settings, keep=True)
    for name in variant_names:
        variant = TurnVariant(experiment_id=experiment.id, variant=experiment.variant(name))
        pipeline = replay_pipeline(services, variant, recorder)
        for item in questions:
            conversation = Conversation(
                id=f"{REPLAY_THREAD_PREFIX}{uuid.uuid4()}", principal=REPLAY_PRINCIPAL
            )
            for text in (item.question, *item.follow_ups):
                await _one_turn(pipeline, conversation, text)
    return compare(recorder.facts, variant_names, min_n=min_n)
