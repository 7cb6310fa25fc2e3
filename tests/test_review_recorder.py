"""The review recorder as a turn observer: answered turns are offered with the right tier,
capability and variant; refusals and replays are not; a broken queue never breaks a turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from assistant.experiments.models import TurnVariant, Variant
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.review.models import ReviewCandidate, ReviewItem, ReviewSettings
from assistant.review.queue import ReviewQueue
from assistant.review.recorder import ReviewRecorder
from assistant.turns import Conversation, Receipt, SourceRef, TurnResult
from routing.tiers import Route, Tier

ALL = ReviewSettings(share={"chat": 1.0, "document_qa": 1.0})
COMPLIANCE = Principal(user_id="cora", groups=frozenset({"compliance"}))


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = open_database(GovernanceSettings(), data_dir)
    yield engine
    engine.dispose()


def _result(tier: Tier = Tier.PUBLIC, **changes: Any) -> TurnResult:
    receipt = Receipt(tier=tier, route=Route.LOCAL, rule="r", model="m", model_kind="local")
    base: dict[str, Any] = {"answer": "Use the rooms page.", "outcome": "ok", "route": "local", "model": "m"}
    return TurnResult(**(base | {"receipt": receipt} | changes))


def _conversation(thread: str = "t1", tier: Tier = Tier.PUBLIC) -> Conversation:
    return Conversation(id=thread, principal=Principal(user_id="bob"), tier=tier)


def test_an_answered_turn_is_offered_with_its_facts(engine: Engine) -> None:
    queue = ReviewQueue(engine, ALL)
    recorder = ReviewRecorder(queue)
    variant = TurnVariant(experiment_id="ab", variant=Variant(name="concise", share=0.5))
    recorder.on_turn(_conversation(), "How do I book a room?", _result(variant=variant), [])
    source = SourceRef(number=1, doc_id="d", title="T", location="L", snippet="s", passage="p", highlight="s")
    recorder.on_turn(_conversation("t2"), "What does the handbook say?", _result(sources=(source,)), [])
    items = queue.pending_for(COMPLIANCE)
    assert [(i.capability, i.experiment_id, i.variant, i.question) for i in items] == [
        ("chat", "ab", "concise", "How do I book a room?"),
        ("document_qa", None, None, "What does the handbook say?"),
    ]


def test_a_tainted_chat_makes_the_turn_regulated(engine: Engine) -> None:
    queue = ReviewQueue(engine, ALL)
    ReviewRecorder(queue).on_turn(_conversation(tier=Tier.REGULATED), "And my pay?", _result(), [])
    assert [i.tier for i in queue.pending_for(COMPLIANCE)] == ["regulated"]
    assert queue.pending_for(Principal(user_id="admin", role="admin")) == []


def test_refusals_and_replays_are_not_offered(engine: Engine) -> None:
    queue = ReviewQueue(engine, ALL)
    recorder = ReviewRecorder(queue)
    recorder.on_turn(_conversation(), "q", _result(outcome="blocked"), [])
    recorder.on_turn(_conversation("replay-1"), "q", _result(), [])
    assert queue.pending_for(COMPLIANCE) == []


class _BrokenQueue(ReviewQueue):
    def offer(self, candidate: ReviewCandidate) -> ReviewItem | None:
        raise OSError("disk full")


def test_a_failing_queue_never_breaks_the_turn(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    ReviewRecorder(_BrokenQueue(engine, ALL)).on_turn(_conversation(), "q", _result(), [])
    assert "review queue: turn not offered" in caplog.text
