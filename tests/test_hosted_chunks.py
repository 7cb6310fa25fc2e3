"""The hosted adapter reads each streamed chunk as the JSON object the endpoint sent: every shape
an OpenAI-compatible server may send is read as before, and any other shape is a bad response
(never a crash, never text that is not text). Real HTTP to a scripted server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from models.base import (
    ChatMessage,
    ChatRequest,
    ModelBadResponse,
    StreamEnd,
    TextDelta,
    ToolCallEvent,
    ToolDefinition,
    collect,
)
from models.hosted import HostedModel
from models.settings import HostedModelSettings
from tests.support.scripted_openai import ScriptedOpenAI, _chunk, text_stream, tool_call_stream

Endpoint = tuple[ScriptedOpenAI, HostedModel]


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    scripted = ScriptedOpenAI().start()
    model = HostedModel("scripted", HostedModelSettings(base_url=scripted.base_url, api_key="test"))
    yield scripted, model
    await model.aclose()
    scripted.stop()


def ask(tools: tuple[ToolDefinition, ...] = ()) -> ChatRequest:
    request = ChatRequest.of([ChatMessage(role="user", content="Hello")], max_tokens=8, temperature=0.0)
    return request.model_copy(update={"tools": tools}) if tools else request


async def test_text_usage_and_finish_are_read_from_the_chunks(
    endpoint: tuple[ScriptedOpenAI, HostedModel],
) -> None:
    scripted, model = endpoint
    usage = {
        "id": "x",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }
    scripted.script.append([*text_stream("Hello there friend")[:-1], _chunk({}, "length"), usage])
    events = [event async for event in model.stream(ask())]
    *deltas, end = events
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "Hello there friend"
    assert isinstance(end, StreamEnd) and end.finish_reason == "length"
    assert (end.usage.prompt_tokens, end.usage.completion_tokens, end.usage.source) == (7, 3, "server")
    sent = scripted.bodies[0]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [{"role": "user", "content": "Hello"}] and sent["max_tokens"] == 8
    assert "tools" not in sent and "tool_choice" not in sent


async def test_a_tool_call_in_fragments_is_assembled(endpoint: Endpoint) -> None:
    scripted, model = endpoint
    scripted.script.append(tool_call_stream("lookup", '{"expression": "2+2"}'))
    lookup = ToolDefinition(name="lookup", description="Look something up.")
    events = [event async for event in model.stream(ask((lookup,)))]
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [("call_abc", "lookup", '{"expression": "2+2"}')]
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.finish_reason == "tool_calls"
    assert scripted.bodies[0]["tools"] == [lookup.wire()] and scripted.bodies[0]["tool_choice"] == "auto"


async def test_null_fields_and_empty_choices_are_read_as_nothing(
    endpoint: tuple[ScriptedOpenAI, HostedModel],
) -> None:
    scripted, model = endpoint
    odd: list[dict[str, Any]] = [
        {"id": "x", "choices": []},
        {"id": "x", "choices": [{"index": 0, "delta": None, "finish_reason": None}]},
        {"id": "x", "choices": [{"index": 0, "delta": {"content": None, "tool_calls": None}}], "usage": None},
        _chunk({"content": "ok"}),
        _chunk({}, "stop"),
    ]
    scripted.script.append(odd)
    end = await collect(model.stream(ask()))
    assert end.text == "ok" and end.finish_reason == "stop" and end.usage.source == "counted"


@pytest.mark.parametrize(
    "chunk",
    [
        _chunk({"content": 42}),  # a number is not text
        _chunk({"content": ["Hello"]}),
        {"id": "x", "choices": "Hello"},  # choices must be a list of objects
        {"id": "x", "choices": [["Hello"]]},
        ["not", "an", "object"],
        "just a string",
        {"error": {"message": "the upstream is overloaded"}},  # an error event mid-stream
    ],
    ids=[
        "number",
        "list content",
        "string choices",
        "list choice",
        "list chunk",
        "string chunk",
        "error event",
    ],
)
async def test_any_other_shape_is_a_bad_response(
    endpoint: tuple[ScriptedOpenAI, HostedModel], chunk: Any
) -> None:
    scripted, model = endpoint
    scripted.script.append([chunk, _chunk({}, "stop")])
    with pytest.raises(ModelBadResponse):
        await collect(model.stream(ask()))
