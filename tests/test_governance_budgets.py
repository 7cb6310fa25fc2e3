"""Daily budgets: enforcement, admin overrides and concurrent charging, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from assistant.governance.budgets import Budgets
from assistant.governance.db import open_database
from assistant.governance.settings import BudgetSettings, GovernanceSettings
from assistant.identity import Principal
from tests.postgres import any_database_url, postgres_server, postgres_url  # noqa: F401

ALICE = Principal(user_id="alice")
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def budgets(any_database_url, data_dir):  # noqa: F811
    engine = open_database(GovernanceSettings(database_url=any_database_url), data_dir)
    yield Budgets(engine, BudgetSettings(daily_tokens=1000, daily_cost_usd=0.50))
    engine.dispose()


def test_within_then_over_the_token_budget(budgets):
    assert budgets.check(ALICE, NOON).allowed
    budgets.charge(ALICE, 600, 0.0, NOON)
    status = budgets.check(ALICE, NOON)
    assert status.allowed and status.tokens_used == 600
    budgets.charge(ALICE, 400, 0.0, NOON)
    status = budgets.check(ALICE, NOON)
    assert not status.allowed and status.reason == "token"
    assert "daily token budget" in status.message and "1,000/1,000" in status.message
    # Another user and the next UTC day are unaffected.
    assert budgets.check(Principal(user_id="bob"), NOON).allowed
    assert budgets.check(ALICE, NOON + timedelta(days=1)).allowed


def test_over_the_cost_budget(budgets):
    budgets.charge(ALICE, 10, 0.5, NOON)
    status = budgets.check(ALICE, NOON)
    assert not status.allowed and status.reason == "cost"


def test_admin_override_raises_and_clears(budgets):
    budgets.charge(ALICE, 1000, 0.0, NOON)
    assert not budgets.check(ALICE, NOON).allowed
    limits = budgets.set_override(user_id="alice", daily_tokens=5000, daily_cost_usd=None, set_by="root")
    assert limits.overridden and limits.daily_tokens == 5000 and limits.daily_cost_usd == 0.5
    assert budgets.check(ALICE, NOON).allowed
    budgets.clear_override(user_id="alice")
    assert not budgets.check(ALICE, NOON).allowed


def test_zero_token_budget_refuses_and_zero_cost_budget_allows_free_use(budgets):
    budgets.set_override(user_id="alice", daily_tokens=0, daily_cost_usd=None, set_by="root")
    assert not budgets.check(ALICE, NOON).allowed
    budgets.set_override(user_id="alice", daily_tokens=None, daily_cost_usd=0.0, set_by="root")
    budgets.charge(ALICE, 100, 0.0, NOON)  # local model: free
    assert budgets.check(ALICE, NOON).allowed
    budgets.charge(ALICE, 1, 0.0001, NOON)
    assert not budgets.check(ALICE, NOON).allowed


def test_negative_values_are_refused(budgets):
    with pytest.raises(ValueError):
        budgets.charge(ALICE, -1, 0.0)
    with pytest.raises(ValueError):
        budgets.set_override(user_id="alice", daily_tokens=-5, daily_cost_usd=None, set_by="root")


def test_concurrent_charges_are_all_counted(budgets):
    def work() -> None:
        for _ in range(20):
            budgets.charge(ALICE, 3, 0.001, NOON)

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = budgets.check(ALICE, NOON)
    assert status.tokens_used == 300
    assert status.cost_used_usd == pytest.approx(0.1)
