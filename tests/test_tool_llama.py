"""Tool calls from a real llama.cpp: `llama_cpp.server` on loopback (the OpenAI-compatible route)
and the in-process adapter, each with a forced `tool_choice`, so llama.cpp constrains the output
with a grammar built from the tool's JSON schema. Only what the grammar fixes is asserted (the
tool's name, a JSON object with the required keys of the right types), never what the model picks.
"""

from __future__ import annotations

import json

import pytest

from models.base import ChatMessage, ChatRequest, ForceTool, StreamEnd, ToolCallEvent, ToolDefinition
from models.hosted import HostedModel
from models.local import LocalModel, tool_arguments
from models.settings import HostedModelSettings, LocalModelSettings
from tests.support.servers import LlamaServer, bundled_gguf

pytestmark = pytest.mark.slow

CALCULATOR = ToolDefinition(
    name="calculator",
    description="Percent of a number.",
    parameters={
        "type": "object",
        "properties": {"percent": {"type": "number"}, "of": {"type": "number"}},
        "required": ["percent", "of"],
        "additionalProperties": False,
    },
)
REQUEST = ChatRequest.of(
    [ChatMessage(role="user", content="What's 17.5 % of 2,380?")],
    tools=(CALCULATOR,),
    tool_choice=ForceTool(name="calculator"),
    max_tokens=160,  # room for the longest numbers the schema grammar allows
    temperature=0.0,
)


def assert_grammar_shaped_call(events: list[object]) -> None:
    calls = [event.call for event in events if isinstance(event, ToolCallEvent)]
    assert len(calls) == 1 and calls[0].name == "calculator"
    arguments = json.loads(calls[0].arguments)
    assert set(arguments) == {"percent", "of"}
    assert all(isinstance(value, int | float) for value in arguments.values())
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.finish_reason == "tool_calls"


async def test_the_llama_cpp_server_returns_a_forced_tool_call(llama_server: LlamaServer) -> None:
    if not llama_server.running:
        llama_server.start()
    settings = HostedModelSettings(
        api_key="test-key",  # type: ignore[arg-type]
        base_url=llama_server.base_url,
        first_token_timeout_s=60.0,
        total_timeout_s=120.0,
    )
    model = HostedModel(llama_server.alias, settings)
    try:
        events = [event async for event in model.stream(REQUEST)]
    finally:
        await model.aclose()
    assert_grammar_shaped_call(events)


async def test_the_in_process_model_returns_a_forced_tool_call_only_when_its_settings_allow_tools() -> None:
    base = LocalModelSettings(profile="small", path=bundled_gguf(), threads=1, context_window=1024)
    assert base.supports_tools is False  # the 135M profile is offered no tools
    model = LocalModel(bundled_gguf(), base.model_copy(update={"supports_tools": True}))
    try:
        events = [event async for event in model.stream(REQUEST)]
    finally:
        model.close()
    assert_grammar_shaped_call(events)


async def test_a_model_whose_settings_say_no_tools_is_sent_none() -> None:
    small = LocalModelSettings(profile="small")
    assert tool_arguments(REQUEST, small) == {}
    assert tool_arguments(REQUEST, small.model_copy(update={"supports_tools": True}))["tool_choice"] == {
        "type": "function",
        "function": {"name": "calculator"},
    }
    assert "tool_choice" not in tool_arguments(
        replace_choice(REQUEST, "auto"), small.model_copy(update={"supports_tools": True})
    )


def replace_choice(request: ChatRequest, choice: str) -> ChatRequest:
    return request.model_copy(update={"tool_choice": choice})
