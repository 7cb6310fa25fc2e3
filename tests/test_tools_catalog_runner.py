"""The catalog's tools through the engine's `ToolRunner`, with the real sensitivity gate.

Acceptance for issue 14 on the catalog side: a user outside `finance` is never offered the
finance HTTP tool, and a forced call is refused (recorded, and nothing reaches the API); a
regulated argument never reaches an external tool; an external result with an SSN is regulated;
"17.5 % of 2,380" is 416.5 through the whole call path.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.tools.builtin_calculator import CalculatorTool
from assistant.tools.catalog import HttpToolDeclaration, McpServerDeclaration
from assistant.tools.http_tool import HttpTool
from assistant.tools.mcp_tool import McpConnection, discover_mcp_tools
from assistant.tools.registry import ToolRegistry
from assistant.tools.runner import ToolRunner, ToolTurn
from knowledge.access import Principal
from models.base import ToolCall
from routing.tiers import Tier
from tests.support.tool_server import SSN_CANARY, ToolServer, running_tool_server

REPO = Path(__file__).resolve().parent.parent
ALICE = Principal(user_id="alice", groups=frozenset({"hr"}))
FRANK = Principal(user_id="frank", groups=frozenset({"finance"}))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[ToolServer]:
    with running_tool_server() as state:
        yield state


@pytest.fixture
def registry(server: ToolServer) -> ToolRegistry:
    rates = HttpToolDeclaration(
        name="exchange_rate",
        description="Exchange rate of a currency against the euro.",
        url=server.base_url + "/rates/{currency}",
        groups=frozenset({"finance"}),
        max_argument_tier=Tier.INTERNAL,
        arguments={
            "type": "object",
            "required": ["currency"],
            "properties": {"currency": {"type": "string"}},
        },
    )
    employee = HttpToolDeclaration(
        name="employee_record",
        description="An employee's record.",
        url=server.base_url + "/employee",
        arguments={"type": "object", "properties": {"note": {"type": "string"}}},
    )
    return ToolRegistry([CalculatorTool(), HttpTool(rates, headers={}), HttpTool(employee, headers={})])


def _call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id="call-1", name=name, arguments=json.dumps(arguments))


async def test_finance_tool_never_offered_outside_finance_and_a_forced_call_is_refused(
    registry: ToolRegistry, server: ToolServer, gate_privacy
) -> None:
    assert "exchange_rate" not in [t.spec.name for t in registry.offered_to(ALICE, Tier.PUBLIC)]
    assert "exchange_rate" in [t.spec.name for t in registry.offered_to(FRANK, Tier.PUBLIC)]
    before = len(server.requests)
    runner = ToolRunner(registry, gate_privacy)
    refused = await runner.execute(_call("exchange_rate", currency="USD"), ToolTurn(ALICE, Tier.PUBLIC))
    assert refused.record.outcome == "refused_permission" and len(server.requests) == before
    allowed = await runner.execute(_call("exchange_rate", currency="USD"), ToolTurn(FRANK, Tier.PUBLIC))
    assert allowed.record.outcome == "ok" and server.requests[-1].path == "/rates/USD"


async def test_a_regulated_argument_never_reaches_the_api(
    registry: ToolRegistry, server: ToolServer, gate_privacy
) -> None:
    before = len(server.requests)
    runner = ToolRunner(registry, gate_privacy)
    call = _call("employee_record", note=f"my SSN is {SSN_CANARY}")
    executed = await runner.execute(call, ToolTurn(ALICE, Tier.PUBLIC))
    assert executed.record.outcome == "refused_privacy" and len(server.requests) == before
    assert all(
        SSN_CANARY.encode() not in seen.body and SSN_CANARY not in seen.path for seen in server.requests
    )


async def test_an_external_result_with_an_ssn_is_regulated(registry: ToolRegistry, gate_privacy) -> None:
    executed = await ToolRunner(registry, gate_privacy).execute(
        _call("employee_record"), ToolTurn(ALICE, Tier.PUBLIC)
    )
    assert executed.record.outcome == "ok" and executed.result_tier == Tier.REGULATED


async def test_the_calculator_through_the_runner(registry: ToolRegistry, gate_privacy) -> None:
    executed = await ToolRunner(registry, gate_privacy).execute(
        _call("calculator", expression="17.5 % of 2,380"), ToolTurn(ALICE, Tier.INTERNAL)
    )
    assert executed.record.outcome == "ok" and executed.message.content == "416.5"


async def test_an_mcp_result_with_an_ssn_is_regulated_and_an_ssn_argument_is_refused(gate_privacy) -> None:
    declaration = McpServerDeclaration(
        name="hr",
        transport="stdio",
        command=sys.executable,
        args=["-m", "tests.support.mcp_server"],
        cwd=REPO,
        tools=["ssn_record"],
        side_effects=False,
        max_argument_tier=Tier.INTERNAL,
    )
    registry = ToolRegistry(await discover_mcp_tools(McpConnection(declaration, environ={})))
    runner = ToolRunner(registry, gate_privacy)
    executed = await runner.execute(_call("hr_ssn_record", employee="Dana"), ToolTurn(ALICE, Tier.PUBLIC))
    assert executed.record.outcome == "ok" and SSN_CANARY in executed.message.content
    assert executed.result_tier == Tier.REGULATED
    refused = await runner.execute(
        _call("hr_ssn_record", employee=f"SSN {SSN_CANARY}"), ToolTurn(ALICE, Tier.PUBLIC)
    )
    assert refused.record.outcome == "refused_privacy"
