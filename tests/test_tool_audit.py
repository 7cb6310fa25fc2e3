"""Tool calls in the audit hash chain and the metrics: hashes and outcomes, never text (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlmodel import Session, select

from assistant.governance.audit import AuditTrail
from assistant.governance.dashboard_data import compute_figures
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.governance.tables import AuditRow
from assistant.tools.loop import LoopTurn, ToolLoop
from assistant.tools.observe import ToolRecorder, tool_figures
from assistant.tools.records import canonical_arguments, sha256_text
from assistant.tools.rounds import RoutedRound
from assistant.tools.runner import ToolRunner
from assistant.ui.console import dashboard_charts
from models.base import ChatMessage
from models.fakes import QueueModel, call
from routing.routed import ModelSet
from routing.tiers import Tier
from tests.support.tool_kit import ALICE, SSN_CANARY, Catalog, ScriptedClassifier, decision, route_for, tool


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = open_database(GovernanceSettings(), tmp_path)
    yield engine
    engine.dispose()


async def test_every_tool_call_and_the_loop_end_are_chained_audit_records_without_text(
    engine: Engine,
) -> None:
    trail, registry = AuditTrail(engine), CollectorRegistry()
    finance = tool("finance_report", "Q3", groups=frozenset({"finance"}))
    lookup = tool("lookup", f"SSN {SSN_CANARY}", max_argument_tier=Tier.REGULATED)
    catalog = Catalog([finance, lookup])
    loop = ToolLoop(
        catalog, ToolRunner(catalog, ScriptedClassifier()), observers=[ToolRecorder(trail, registry)]
    )
    hosted = QueueModel(
        [call("finance_report", expression="q3"), call("lookup", expression=SSN_CANARY)], kind="hosted"
    )
    local = QueueModel("done", kind="local")
    turn = LoopTurn(principal=ALICE, decision=decision(), route_for=route_for, thread_id="t1")
    question = [ChatMessage(role="user", content="q")]
    [_ async for _ in loop.run(turn, RoutedRound(ModelSet(local=local, hosted=[hosted]), question))]

    assert trail.verify().ok
    with Session(engine) as session:
        rows = session.exec(select(AuditRow).order_by(AuditRow.seq)).all()  # type: ignore[arg-type]
    refused, looked_up, ended = rows
    assert (refused.kind, refused.model, refused.outcome) == ("tool_call", "tool:finance_report", "blocked")
    assert "outcome=refused_permission" in (refused.detail or "") and refused.user_id == "alice"
    assert looked_up.tier == "regulated" and looked_up.outcome == "ok"
    arguments = canonical_arguments(f'{{"expression": "{SSN_CANARY}"}}')
    assert looked_up.request_sha256 == sha256_text(arguments)
    assert looked_up.response_sha256 == sha256_text(f"SSN {SSN_CANARY}")
    assert ended.kind == "tool_loop" and "termination=answered" in (ended.detail or "")
    assert all(SSN_CANARY not in (row.detail or "") for row in rows)

    figures = tool_figures(rows)
    assert (figures.calls, figures.refusals, figures.terminations) == (2, 1, {"answered": 1})
    assert (
        registry.get_sample_value(
            "confidante_tool_calls_total", {"tool": "finance_report", "outcome": "refused_permission"}
        )
        == 1.0
    )
    assert registry.get_sample_value("confidante_tool_loops_total", {"reason": "answered"}) == 1.0

    figures = compute_figures(engine)
    assert figures.tools == tool_figures(rows)
    assert "Tool calls (2)" in "".join(dashboard_charts(figures))
