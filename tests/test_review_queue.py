"""The review queue on a real migrated database: sampling by share, who sees which tier, grading
once, graded accuracy per variant, and the table matching its migration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.review.accuracy import graded_accuracy_by_variant
from assistant.review.models import ReviewCandidate, ReviewSettings
from assistant.review.queue import ReviewError, ReviewQueue
from assistant.review.sampling import sampled
from assistant.review.table import ReviewItemRow
from knowledge.access import Principal

ALL = ReviewSettings(share={"chat": 1.0, "document_qa": 1.0, "summaries": 1.0})
ADMIN = Principal(user_id="admin", role="admin")
REVIEWER = Principal(user_id="rita", groups=frozenset({"reviewers"}))
COMPLIANCE = Principal(user_id="cora", groups=frozenset({"compliance"}))
USER = Principal(user_id="bob")


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = open_database(GovernanceSettings(), data_dir)
    yield engine
    engine.dispose()


def _candidate(turn: str, tier: str = "public", variant: str | None = None, **extra: str) -> ReviewCandidate:
    return ReviewCandidate.model_validate(
        {
            "turn_id": turn,
            "capability": "chat",
            "tier": tier,
            "user_id": "bob",
            "experiment_id": "ab" if variant else None,
            "variant": variant,
            "question": f"question {turn}",
            "answer": f"answer {turn}",
            **extra,
        }
    )


def test_sampling_follows_the_share_and_is_stable() -> None:
    turns = [f"turn-{i}" for i in range(4000)]
    picked = [t for t in turns if sampled(t, 0.1)]
    assert 320 < len(picked) < 480  # 10 % of 4,000, with room for the hash's spread
    assert picked == [t for t in turns if sampled(t, 0.1)]
    assert not any(sampled(t, 0.0) for t in turns[:100]) and all(sampled(t, 1.0) for t in turns[:100])


def test_only_sampled_turns_are_queued_and_a_retry_does_not_double(engine: Engine) -> None:
    none = ReviewQueue(engine, ReviewSettings(share={"chat": 0.0}))
    assert none.offer(_candidate("t1")) is None
    queue = ReviewQueue(engine, ALL)
    first = queue.offer(_candidate("t1"))
    again = queue.offer(_candidate("t1"))
    assert first is not None and again is not None and first.id == again.id
    assert [i.turn_id for i in queue.pending_for(ADMIN)] == ["t1"]


def test_regulated_turns_reach_only_the_policy_groups(engine: Engine) -> None:
    queue = ReviewQueue(engine, ALL)
    queue.offer(_candidate("pub"))
    secret = queue.offer(_candidate("reg", tier="regulated", question="My SSN is 078-05-1120"))
    assert secret is not None
    assert [i.turn_id for i in queue.pending_for(ADMIN)] == ["pub"]
    assert [i.turn_id for i in queue.pending_for(REVIEWER)] == ["pub"]
    assert [i.turn_id for i in queue.pending_for(COMPLIANCE)] == ["pub", "reg"]
    assert queue.pending_for(USER) == []
    for outsider in (ADMIN, REVIEWER, USER):
        with pytest.raises(ReviewError, match="No such review item"):
            queue.grade(secret.id, outsider, "correct")
    graded = queue.grade(secret.id, COMPLIANCE, "wrong", "  leaked nothing, wrong answer ")
    assert graded.grade == "wrong" and graded.note == "leaked nothing, wrong answer"
    assert queue.graded_for(ADMIN) == [] and [i.turn_id for i in queue.graded_for(COMPLIANCE)] == ["reg"]


def test_an_item_is_graded_once_with_a_real_grade(engine: Engine) -> None:
    queue = ReviewQueue(engine, ALL)
    item = queue.offer(_candidate("t1"))
    assert item is not None
    with pytest.raises(ReviewError):
        queue.grade(item.id, ADMIN, "great")
    queue.grade(item.id, REVIEWER, "partly")
    with pytest.raises(ReviewError, match="graded already"):
        queue.grade(item.id, ADMIN, "correct")
    assert queue.pending_for(ADMIN) == []


def test_graded_accuracy_per_variant(engine: Engine) -> None:
    queue = ReviewQueue(engine, ALL)
    grades = {"control": ["correct"] * 18 + ["partly", "wrong"], "concise": ["correct", "wrong", "partly"]}
    for variant, marks in grades.items():
        for n, mark in enumerate(marks):
            item = queue.offer(_candidate(f"{variant}-{n}", variant=variant))
            assert item is not None
            queue.grade(item.id, ADMIN, mark)
    queue.offer(_candidate("ungraded", variant="control"))
    accuracy = graded_accuracy_by_variant(engine, "ab")
    control, concise = accuracy["control"], accuracy["concise"]
    assert (control.graded, control.correct, control.partly, control.wrong) == (20, 18, 1, 1)
    assert control.accuracy.value == pytest.approx(0.9)
    assert control.accuracy.low is not None and control.accuracy.low < 0.9 < (control.accuracy.high or 0)
    assert concise.graded == 3 and concise.accuracy.value is None  # not enough data yet
    assert graded_accuracy_by_variant(engine, "other") == {}


def test_the_table_matches_its_migration(engine: Engine) -> None:
    assert ReviewItemRow.__tablename__ == "review_items"
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, SQLModel.metadata)
    assert [d for d in diffs if "review_items" in repr(d)] == []


def test_deleting_a_chat_deletes_its_review_items(engine: Engine) -> None:
    queue = ReviewQueue(engine, ALL)
    queue.offer(_candidate("t1", thread_id="chat-1"))
    queue.offer(_candidate("t2", thread_id="chat-2"))
    assert queue.forget_thread("chat-1") == 1
    assert [i.turn_id for i in queue.pending_for(ADMIN)] == ["t2"]


def test_deleting_a_chat_deletes_its_sampled_answers(engine: Engine) -> None:
    """A review item holds the chat's text: it must not outlive the chat its owner deleted."""
    from assistant.governance.chat_history import ChatHistory

    history, queue = ChatHistory(engine), ReviewQueue(engine, ALL)
    assert history.upsert_thread("t-gone", "bob") and history.upsert_thread("t-kept", "bob")
    queue.offer(_candidate("a", thread_id="t-gone"))
    queue.offer(_candidate("b", thread_id="t-kept"))
    history.delete_thread("t-gone", "mallory")  # not the owner: nothing goes
    assert len(queue.pending_for(ADMIN)) == 2
    history.delete_thread("t-gone", "bob")
    assert [item.question for item in queue.pending_for(ADMIN)] == ["question b"]
