"""One turn's audit records in one transaction (`AuditTrail.record_many`), on SQLite and PostgreSQL:
chained in order like single appends, verifiable, and read back exactly as returned."""

from __future__ import annotations

import pytest

from assistant.governance.audit import AuditTrail
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from tests.postgres import any_database_url, postgres_server, postgres_url  # noqa: F401
from tests.test_audit import call


@pytest.fixture
def engine(any_database_url, data_dir):  # noqa: F811
    engine = open_database(GovernanceSettings(database_url=any_database_url), data_dir)
    yield engine
    engine.dispose()


def test_a_batch_is_chained_in_order_after_single_records(engine) -> None:
    trail = AuditTrail(engine)
    first = trail.record(call(0))
    batch = trail.record_many([call(1, kind="routing_decision", outcome="ok"), call(2), call(3)])
    assert [r.seq for r in batch] == [2, 3, 4]
    assert batch[0].prev_hash == first.record_hash
    assert [b.prev_hash for b in batch[1:]] == [a.record_hash for a in batch[:-1]]
    after = trail.record(call(4))
    assert after.seq == 5 and after.prev_hash == batch[-1].record_hash
    assert trail.verify().ok


def test_what_a_batch_returns_is_what_was_stored(engine) -> None:
    trail = AuditTrail(engine)
    returned = trail.record_many([call(0), call(1, kind="routing_decision")])
    assert trail.records() == returned
    assert trail.raw_text(returned[0].seq) == ('{"messages": ["question 0"]}', "answer 0")


def test_an_empty_batch_writes_nothing(engine) -> None:
    trail = AuditTrail(engine)
    assert trail.record_many([]) == []
    assert trail.records() == [] and trail.verify().ok
