"""Issue 14's acceptance on the real registry and a real admin-declared HTTP tool: a user outside
`finance` is never offered the finance tool, and a forced call is refused and audited (nothing is
sent: the tool's transport would fail the test if it were reached)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from assistant.governance.audit import AuditTrail
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.governance.tables import AuditRow
from assistant.tools.builtin_calculator import CalculatorTool
from assistant.tools.catalog import HttpToolDeclaration
from assistant.tools.http_tool import HttpTool
from assistant.tools.loop import LoopFinished, LoopTurn, ToolLoop
from assistant.tools.observe import ToolRecorder
from assistant.tools.registry import ToolRegistry
from assistant.tools.rounds import RoutedRound
from assistant.tools.runner import ToolRunner
from models.base import ChatMessage
from models.fakes import QueueModel, call
from routing.routed import ModelSet
from tests.support.tool_kit import ALICE, FINANCE_USER, ScriptedClassifier, decision, route_for


def unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the finance API must not be called: {request.url}")


def registry() -> ToolRegistry:
    finance = HttpToolDeclaration(
        name="finance_report",
        description="Quarterly figures.",
        url="https://finance.example.com/report",
        groups=frozenset({"finance"}),
        arguments={"type": "object", "properties": {"quarter": {"type": "string"}}},
    )
    http = HttpTool(finance, headers={}, transport=httpx.MockTransport(unreachable))
    return ToolRegistry([CalculatorTool(), http])


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = open_database(GovernanceSettings(), tmp_path)
    yield engine
    engine.dispose()


async def test_outside_finance_the_tool_is_never_offered_and_a_forced_call_is_refused_and_audited(
    engine: Engine,
) -> None:
    tools = registry()
    assert [t.spec.name for t in tools.offered_to(ALICE, "public")] == ["calculator"]
    assert "finance_report" in [t.spec.name for t in tools.offered_to(FINANCE_USER, "public")]

    trail = AuditTrail(engine)
    loop = ToolLoop(tools, ToolRunner(tools, ScriptedClassifier()), observers=[ToolRecorder(trail)])
    hosted = QueueModel(call("finance_report", quarter="Q3"), "I cannot see that.", kind="hosted")
    turn = LoopTurn(principal=ALICE, decision=decision(), route_for=route_for, thread_id="t9")
    round_ = RoutedRound(
        ModelSet(local=QueueModel(kind="local"), hosted=[hosted]), [ChatMessage(role="user", content="Q3?")]
    )
    events = [event async for event in loop.run(turn, round_)]

    assert [t.name for t in hosted.requests[0].tools] == ["calculator"]
    finished = events[-1]
    assert isinstance(finished, LoopFinished)
    assert [r.outcome for r in finished.report.records] == ["refused_permission"]
    with Session(engine) as session:
        rows = session.exec(select(AuditRow).where(AuditRow.kind == "tool_call")).all()
    assert [(r.model, r.user_id, r.outcome) for r in rows] == [("tool:finance_report", "alice", "blocked")]
    assert trail.verify().ok
