"""Escalations: opened by the pipeline, listed and resolved by admins."""

from __future__ import annotations

import pytest

from assistant.governance.db import open_database
from assistant.governance.escalations import EscalationError, Escalations
from assistant.governance.settings import GovernanceSettings


@pytest.fixture
def escalations(data_dir):
    engine = open_database(GovernanceSettings(), data_dir)
    yield Escalations(engine)
    engine.dispose()


def test_open_list_resolve(escalations):
    first = escalations.open("t1", "alice", "low_confidence", "confidence low on a policy question")
    second = escalations.open("t2", "bob", "user_request", "asked for a person")
    assert {e.id for e in escalations.list_open()} == {first.id, second.id}
    resolved = escalations.resolve(first.id, admin="root", note="answered by HR")
    assert (
        resolved.status == "resolved" and resolved.resolved_by == "root" and resolved.resolved_at is not None
    )
    assert [e.id for e in escalations.list_open()] == [second.id]
    assert [e.id for e in escalations.list(status="resolved")] == [first.id]
    # Resolving twice keeps the first resolution.
    assert escalations.resolve(first.id, admin="other", note="x").resolved_by == "root"


def test_unknown_reason_and_id_are_refused(escalations):
    with pytest.raises(ValueError):
        escalations.open("t1", "alice", "because", "")  # type: ignore[arg-type]
    with pytest.raises(EscalationError):
        escalations.resolve("no-such-id", admin="root")
