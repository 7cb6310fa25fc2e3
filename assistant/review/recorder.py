"""A `TurnObserver` that offers each answered turn to the review queue (sampled by its share).

The turn's tier is the higher of this message's and the conversation's (a tainted chat's answer
may carry earlier regulated values), so a regulated turn is always stored as regulated and shown
only to the policy's groups. Replays, refusals and errors are not offered. Nothing here may raise
into a user's turn: a failure is logged and the turn goes on unreviewed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assistant.experiments.recorder import is_replay
from assistant.review.models import ReviewCandidate
from assistant.review.queue import ReviewQueue

if TYPE_CHECKING:
    from assistant.turns import Conversation, TurnResult
    from routing.routed import CallRecord

log = logging.getLogger(__name__)


def candidate_of(conversation: Conversation, user_text: str, result: TurnResult) -> ReviewCandidate:
    tier = max(result.receipt.tier, conversation.tier, key=lambda t: t.rank)
    key = f"{conversation.id}|{len(conversation.history)}|{user_text}"
    variant = result.variant
    return ReviewCandidate(
        turn_id=hashlib.sha256(key.encode("utf-8")).hexdigest()[:32],
        capability="document_qa" if result.sources else "chat",
        tier=tier.value,  # type: ignore[arg-type]  # a Tier value is one of the three literals
        user_id=conversation.principal.user_id,
        thread_id=conversation.id,
        experiment_id=variant.experiment_id if variant else None,
        variant=variant.variant.name if variant else None,
        question=user_text,
        answer=result.answer,
    )


class ReviewRecorder:
    def __init__(self, queue: ReviewQueue) -> None:
        self._queue = queue

    def on_turn(
        self, conversation: Conversation, user_text: str, result: TurnResult, calls: Sequence[CallRecord]
    ) -> None:
        if result.outcome != "ok" or not result.answer.strip() or is_replay(conversation):
            return
        try:
            self._queue.offer(candidate_of(conversation, user_text, result))
        except Exception:  # the review queue must never break a turn
            log.exception("review queue: turn not offered")
