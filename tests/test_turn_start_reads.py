"""The reads at the start of every turn (issue 15 item 7: they sit between the request and the first
upstream byte) are single statements that keep no copy of what they read: a second replica's stop,
charge or override is seen by the very next read, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from assistant.experiments.assignment import assign
from assistant.experiments.models import Capability, ExperimentSpec, TurnVariant, Variant
from assistant.experiments.store import ExperimentStore
from assistant.governance.budgets import Budgets
from assistant.governance.db import open_database
from assistant.governance.settings import BudgetSettings, GovernanceSettings
from assistant.identity import Principal
from tests.postgres import any_database_url, postgres_server, postgres_url  # noqa: F401

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ALICE = Principal(user_id="alice")
USERS = [f"user-{n}" for n in range(40)]
CAPABILITIES: tuple[Capability, ...] = ("chat", "tools", "summaries")


class Statements:
    """Counts the SQL statements an engine sends."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


@pytest.fixture
def replicas(any_database_url: str, data_dir: Path) -> Iterator[tuple[Engine, Engine]]:  # noqa: F811
    """Two engines on one database: two replicas of the app."""
    settings = GovernanceSettings(database_url=any_database_url)
    first, second = open_database(settings, data_dir), open_database(settings, data_dir)
    yield first, second
    first.dispose()
    second.dispose()


def _spec(experiment_id: str, capability: Capability) -> ExperimentSpec:
    return ExperimentSpec(
        id=experiment_id,
        capability=capability,
        variants=(Variant(name="a", share=0.5), Variant(name="b", share=0.5)),
    )


def _two_reads(store: ExperimentStore, user_id: str, capability: Capability) -> TurnVariant | None:
    """The look-up as it was: the running experiment as a whole, then the user's variant of it."""
    experiment = store.running(capability)
    return (
        None
        if experiment is None
        else TurnVariant(experiment_id=experiment.id, variant=assign(experiment, user_id))
    )


def test_one_query_gives_each_capability_the_variant_separate_reads_gave(
    replicas: tuple[Engine, Engine],
) -> None:
    store = ExperimentStore(replicas[0])
    store.create(_spec("chat-ab", "chat"), created_by="admin")
    store.create(_spec("tools-ab", "tools"), created_by="admin")
    statements = Statements(replicas[0])
    store.variants_for("warm-up", CAPABILITIES)  # parses the two definitions once
    statements.count = 0
    for user in USERS:
        together = store.variants_for(user, CAPABILITIES)
        assert together == {capability: _two_reads(store, user, capability) for capability in CAPABILITIES}
        assert together["summaries"] is None and together["chat"] is not None
    assert statements.count == len(USERS) * (1 + len(CAPABILITIES))  # one per combined read
    assert {store.variant_for(user, "chat").variant.name for user in USERS} == {"a", "b"}  # type: ignore[union-attr]


def test_a_stop_or_a_new_experiment_on_another_replica_applies_to_the_next_read(
    replicas: tuple[Engine, Engine],
) -> None:
    here, there = ExperimentStore(replicas[0]), ExperimentStore(replicas[1])
    there.create(_spec("first", "chat"), created_by="admin")
    assert here.variant_for("alice", "chat") == _two_reads(there, "alice", "chat") != None  # noqa: E711
    there.stop("first", by="admin")
    assert here.variant_for("alice", "chat") is None
    there.create(_spec("second", "chat"), created_by="admin")
    chosen = here.variants_for("alice", ["chat", "tools"])
    assert chosen["chat"] is not None and chosen["chat"].experiment_id == "second" and chosen["tools"] is None


def test_a_budget_check_is_one_statement_and_sees_the_other_replicas_writes(
    replicas: tuple[Engine, Engine],
) -> None:
    limits = BudgetSettings(daily_tokens=1000, daily_cost_usd=0.50)
    here, there = Budgets(replicas[0], limits), Budgets(replicas[1], limits)
    statements = Statements(replicas[0])
    status = here.check(ALICE, NOON)
    assert status.allowed and (status.tokens_used, status.tokens_limit, status.cost_limit_usd) == (
        0,
        1000,
        0.5,
    )
    assert statements.count == 1
    there.charge(ALICE, 1000, 0.25, NOON)
    status = here.check(ALICE, NOON)
    assert not status.allowed and status.reason == "token" and status.cost_used_usd == 0.25
    there.set_override(user_id="alice", daily_tokens=5000, daily_cost_usd=None, set_by="root")
    status = here.check(ALICE, NOON)
    assert status.allowed and (status.tokens_limit, status.cost_limit_usd) == (5000, 0.5)
    there.set_override(user_id="alice", daily_tokens=5000, daily_cost_usd=0.25, set_by="root")
    status = here.check(ALICE, NOON)
    assert not status.allowed and status.reason == "cost" and status.tokens_limit == 5000
    there.clear_override(user_id="alice")
    assert not here.check(ALICE, NOON).allowed and here.check(Principal(user_id="bob"), NOON).allowed
    assert statements.count == 6  # one statement per check
