"""The audit trail against real SQLite and PostgreSQL: chaining, tamper detection, retention."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from assistant.governance.audit import AuditEvent, AuditTrail, estimate_cost, sha256_text
from assistant.governance.db import open_database
from assistant.governance.settings import AuditSettings, GovernanceSettings
from tests.postgres import any_database_url, postgres_server, postgres_url  # noqa: F401


@pytest.fixture
def engine(any_database_url, data_dir):  # noqa: F811
    engine = open_database(GovernanceSettings(database_url=any_database_url), data_dir)
    yield engine
    engine.dispose()


def call(n: int = 0, **overrides) -> AuditEvent:
    fields = dict(
        kind="model_call",
        user_id="alice",
        thread_id="t1",
        tier="internal",
        route="hosted_pseudonymized",
        model="gpt-4o-mini",
        policy_version="p1",
        prompt_template_version="v3",
        document_ids=("doc-1", "doc-2"),
        prompt_tokens=100 + n,
        completion_tokens=20,
        latency_ms=812.5,
        ttft_ms=120.25,
        cost_usd=0.000027,
        request_text=f'{{"messages": ["question {n}"]}}',
        response_text=f"answer {n}",
    )
    fields.update(overrides)
    return AuditEvent(**fields)


def fill(trail: AuditTrail, n: int = 5) -> None:
    for i in range(n):
        trail.record(call(i))


def test_records_are_chained_and_verify(engine):
    trail = AuditTrail(engine)
    first = trail.record(call(0))
    second = trail.record(call(1, kind="routing_decision", outcome="fallback"))
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.record_hash
    assert first.request_sha256 == sha256_text('{"messages": ["question 0"]}')
    assert first.document_ids == ("doc-1", "doc-2")
    result = trail.verify()
    assert result.ok and result.records == 2


def test_editing_a_record_is_detected_and_named(engine):
    trail = AuditTrail(engine)
    fill(trail)
    victim = trail.records()[2]
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_records SET model = 'local-model' WHERE seq = 3"))
    result = trail.verify()
    assert not result.ok
    assert (result.first_bad_seq, result.first_bad_id) == (3, victim.id)
    assert "edited" in result.problem


def test_editing_a_number_is_detected(engine):
    trail = AuditTrail(engine)
    fill(trail)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_records SET cost_usd = 0 WHERE seq = 4"))
    assert trail.verify().first_bad_seq == 4


def test_deleting_a_middle_record_is_detected(engine):
    trail = AuditTrail(engine)
    fill(trail)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq = 2"))
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 3
    assert "missing" in result.problem


def test_deleting_the_last_record_is_detected(engine):
    trail = AuditTrail(engine)
    fill(trail)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq = 5"))
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 5


def test_reordering_records_is_detected(engine):
    trail = AuditTrail(engine)
    fill(trail)
    with engine.begin() as conn:  # swap the sequence numbers of records 2 and 3
        conn.execute(text("UPDATE audit_records SET seq = -2 WHERE seq = 2"))
        conn.execute(text("UPDATE audit_records SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_records SET seq = 3 WHERE seq = -2"))
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_editing_stored_raw_text_is_detected(engine):
    trail = AuditTrail(engine)
    fill(trail, 3)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_raw SET response_text = 'something else' WHERE seq = 2"))
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 2 and "raw text" in result.problem


def test_concurrent_appends_from_separate_writers_keep_the_chain(engine):
    # Separate AuditTrail objects have separate in-process locks: the database must serialize them.
    writers = [AuditTrail(engine) for _ in range(6)]
    errors: list[BaseException] = []

    def work(trail: AuditTrail, k: int) -> None:
        try:
            for i in range(15):
                trail.record(call(k * 100 + i))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w, k)) for k, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = writers[0].verify()
    assert result.ok and result.records == 90
    assert [r.seq for r in writers[0].records()] == list(range(1, 91))


def test_purge_removes_raw_text_after_retention_and_keeps_the_chain(engine):
    trail = AuditTrail(engine, AuditSettings(raw_text_retention_days=30))
    old = trail.record(call(0))
    fresh = trail.record(call(1))
    assert trail.raw_text(old.seq) == ('{"messages": ["question 0"]}', "answer 0")
    assert trail.purge(now=datetime.now(UTC) + timedelta(days=29)) == 0
    assert trail.purge(now=datetime.now(UTC) + timedelta(days=31)) == 2
    assert trail.raw_text(old.seq) is None and trail.raw_text(fresh.seq) is None
    # Hashes stay; the chain is still valid.
    assert trail.records()[0].request_sha256 == old.request_sha256
    assert trail.verify().ok


def test_regulated_raw_text_is_not_stored_unless_configured(engine):
    trail = AuditTrail(engine)
    regulated = trail.record(call(0, tier="regulated", route="local", model="SmolLM2"))
    untiered = trail.record(call(1, tier=None))
    internal = trail.record(call(2))
    assert trail.raw_text(regulated.seq) is None
    assert trail.raw_text(untiered.seq) is None  # no tier: fail closed
    assert trail.raw_text(internal.seq) is not None
    assert regulated.request_sha256 == sha256_text('{"messages": ["question 0"]}')
    keeping = AuditTrail(engine, AuditSettings(store_regulated_raw_text=True))
    kept = keeping.record(call(3, tier="regulated"))
    assert keeping.raw_text(kept.seq) is not None
    assert keeping.verify().ok


def test_zero_retention_never_stores_raw_text(engine):
    trail = AuditTrail(engine, AuditSettings(raw_text_retention_days=0))
    record = trail.record(call(0))
    assert trail.raw_text(record.seq) is None
    assert record.response_sha256 == sha256_text("answer 0")


def test_hash_given_with_mismatching_text_is_refused():
    with pytest.raises(ValueError, match="does not match"):
        AuditEvent(kind="model_call", request_text="a", request_sha256=sha256_text("b"))


def test_export_jsonl_since(engine):
    trail = AuditTrail(engine)
    trail.record(call(0, occurred_at=datetime(2026, 1, 1, tzinfo=UTC)))
    trail.record(call(1, occurred_at=datetime(2026, 2, 1, tzinfo=UTC)))
    lines = [json.loads(line) for line in trail.export(since=datetime(2026, 1, 15, tzinfo=UTC))]
    assert len(lines) == 1
    assert lines[0]["seq"] == 2 and lines[0]["record_hash"] and "request_text" not in lines[0]
    with_raw = [json.loads(line) for line in trail.export(include_raw=True)]
    assert with_raw[1]["response_text"] == "answer 1"
    with pytest.raises(ValueError):
        list(trail.export(fmt="csv"))  # type: ignore[arg-type]


async def test_scheduled_purge_runs(engine):
    import asyncio

    trail = AuditTrail(engine, AuditSettings(raw_text_retention_days=1))
    record = trail.record(call(0))
    with engine.begin() as conn:  # make its raw text already expired
        conn.execute(text("UPDATE audit_raw SET purge_after = :t"), {"t": datetime(2000, 1, 1, tzinfo=UTC)})
    task = trail.start_purge_schedule(interval_s=0.05)
    try:
        for _ in range(100):
            if trail.raw_text(record.seq) is None:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert trail.raw_text(record.seq) is None
    assert trail.verify().ok


def test_cost_estimate_uses_per_model_prices():
    prices = {"gpt-4o": (2.5, 10.0)}
    assert estimate_cost("gpt-4o", 1_000_000, 100_000, prices) == pytest.approx(3.5)
    assert estimate_cost("SmolLM2", 5000, 5000, prices) == 0.0
