"""Tool calls on the hosted path, on the wire: the real `HostedModel` (openai SDK) against a scripted
OpenAI-compatible server on loopback that streams tool-call deltas and records every request.

A tool result carrying an SSN canary makes the rest of the turn local: the endpoint never sees it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from assistant.tools.loop import LoopFinished, LoopTurn, ToolFinished, ToolLoop
from assistant.tools.rounds import RoutedRound
from assistant.tools.runner import ToolRunner
from models.base import (
    ChatMessage,
    ChatRequest,
    ForceTool,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolDefinition,
)
from models.fakes import QueueModel
from models.hosted import HostedModel
from models.settings import HostedModelSettings
from routing.routed import ModelSet
from routing.tiers import Route, Tier
from tests.support.scripted_openai import ScriptedOpenAI, text_stream, tool_call_stream
from tests.support.tool_kit import (
    ALICE,
    SSN_CANARY,
    Catalog,
    ScriptedClassifier,
    decision,
    percent_tool,
    route_for,
    tool,
)

CALCULATOR = ToolDefinition(
    name="calculator",
    description="Percent of a number.",
    parameters={"type": "object", "properties": {"percent": {"type": "number"}, "of": {"type": "number"}}},
)


@pytest.fixture
def server() -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
async def hosted(server: ScriptedOpenAI) -> AsyncIterator[HostedModel]:
    settings = HostedModelSettings(
        api_key="test-key",  # type: ignore[arg-type]
        base_url=server.base_url,
        # Generous: these tests are about the wire format, and on a loaded machine a 5 s first
        # token once timed out and fell back to the (unscripted) local model.
        connect_timeout_s=10.0,
        first_token_timeout_s=30.0,
        total_timeout_s=60.0,
    )
    model = HostedModel("scripted", settings)
    yield model
    await model.aclose()


async def events_of(model: HostedModel, request: ChatRequest) -> list[object]:
    return [event async for event in model.stream(request)]


async def test_streamed_tool_call_deltas_are_assembled_into_one_call(
    server: ScriptedOpenAI, hosted: HostedModel
) -> None:
    server.script.append(tool_call_stream("calculator", '{"percent": 17.5, "of": 2380}', call_id="call_9"))
    request = ChatRequest.of([ChatMessage(role="user", content="17.5% of 2380?")], tools=(CALCULATOR,))
    events = await events_of(hosted, request)
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_9", "calculator", {"percent": 17.5, "of": 2380})
    ]
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.finish_reason == "tool_calls"
    assert not [e for e in events if isinstance(e, TextDelta)]
    body = server.bodies[0]
    assert body["tools"] == [CALCULATOR.wire()] and body["tool_choice"] == "auto"


async def test_a_forced_tool_and_the_tool_exchange_go_out_in_the_openai_shape(
    server: ScriptedOpenAI, hosted: HostedModel
) -> None:
    server.script.append(text_stream("It is 416.5."))
    exchange = [
        ChatMessage(role="user", content="17.5% of 2380?"),
        ChatMessage(role="assistant", content="", tool_calls=(_call(),)),
        ChatMessage(role="tool", content="416.5", tool_call_id="call_1"),
    ]
    request = ChatRequest.of(exchange, tools=(CALCULATOR,), tool_choice=ForceTool(name="calculator"))
    events = await events_of(hosted, request)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is 416.5."
    body = server.bodies[0]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "calculator"}}
    assert body["messages"][1]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "calculator", "arguments": '{"x": 1}'}}
    ]
    assert body["messages"][2] == {"role": "tool", "content": "416.5", "tool_call_id": "call_1"}


async def test_without_tools_the_request_carries_no_tool_fields(
    server: ScriptedOpenAI, hosted: HostedModel
) -> None:
    server.script.append(text_stream("hello"))
    await events_of(hosted, ChatRequest.of([ChatMessage(role="user", content="hi")]))
    assert "tools" not in server.bodies[0] and "tool_choice" not in server.bodies[0]
    assert server.bodies[0]["messages"] == [{"role": "user", "content": "hi"}]


async def run_loop(hosted: HostedModel, local: QueueModel, tools: list) -> LoopFinished:  # type: ignore[type-arg]
    catalog = Catalog(tools)
    loop = ToolLoop(catalog, ToolRunner(catalog, ScriptedClassifier()))
    turn = LoopTurn(principal=ALICE, decision=decision(), route_for=route_for)
    question = [ChatMessage(role="user", content="What's 17.5 % of 2,380?")]
    round_ = RoutedRound(ModelSet(local=local, hosted=[hosted]), question)
    events = [event async for event in loop.run(turn, round_)]
    assert any(isinstance(e, ToolFinished) for e in events)
    finished = events[-1]
    assert isinstance(finished, LoopFinished)
    return finished


async def test_acceptance_the_hosted_model_calls_the_calculator_and_answers_416_5(
    server: ScriptedOpenAI, hosted: HostedModel
) -> None:
    server.script.extend(
        [tool_call_stream("calculator", '{"percent": 17.5, "of": 2380}'), text_stream("It is 416.5.")]
    )
    finished = await run_loop(hosted, QueueModel(kind="local"), [percent_tool()])
    assert finished.report.termination == "answered"
    assert [r.outcome for r in finished.report.records] == ["ok"]
    follow_up = server.bodies[1]["messages"]
    assert follow_up[-1] == {"role": "tool", "content": "416.5", "tool_call_id": "call_abc"}


async def test_a_tool_result_with_an_ssn_canary_keeps_the_rest_of_the_turn_off_the_hosted_endpoint(
    server: ScriptedOpenAI, hosted: HostedModel
) -> None:
    server.script.append(tool_call_stream("employee_record", '{"expression": "bob"}'))
    record = tool("employee_record", f"Bob, SSN {SSN_CANARY}", max_argument_tier=Tier.REGULATED)
    local = QueueModel("Bob's record is on file.", name="local", kind="local")
    finished = await run_loop(hosted, local, [record])
    assert finished.decision.route is Route.LOCAL and finished.report.termination == "answered"
    assert len(server.bodies) == 1 and SSN_CANARY not in server.raw_requests()
    assert SSN_CANARY in local.sent_text()


def _call() -> ToolCall:
    return ToolCall(id="call_1", name="calculator", arguments='{"x": 1}')
