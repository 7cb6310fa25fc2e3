"""Tool calls at the model seam: reading them from streamed deltas and from text a chat template
made the model write, scripted fakes that emit them, and messages that serialize as before."""

from __future__ import annotations

import json

from models.base import ChatMessage, ChatRequest, StreamEnd, TextDelta, ToolCall, ToolCallEvent
from models.fakes import QueueModel, call
from models.local import template_message
from models.tool_calls import ToolCallAssembler, ToolCallText
from routing.routed import request_body


def test_deltas_are_joined_by_index_in_order() -> None:
    assembler = ToolCallAssembler()
    assembler.feed([{"index": 1, "id": "b", "function": {"name": "two", "arguments": '{"x"'}}])
    assembler.feed([{"index": 0, "id": "a", "function": {"name": "one", "arguments": ""}}])
    assembler.feed(
        [{"index": 1, "function": {"arguments": ": 2}"}}, {"index": 0, "function": {"arguments": "{}"}}]
    )
    assert [(c.id, c.name, c.arguments) for c in assembler.calls()] == [
        ("a", "one", "{}"),
        ("b", "two", '{"x": 2}'),
    ]


def feed_all(parser: ToolCallText, pieces: list[str]) -> str:
    return "".join(parser.feed(piece) for piece in pieces) + parser.flush()


def test_a_written_tool_call_is_held_back_from_the_text_even_when_the_tag_is_split() -> None:
    parser = ToolCallText()
    shown = feed_all(
        parser,
        [
            "Let me check.<tool",
            '_call>\n{"name": "calculator", "arguments": {"percent": 17.5}}\n',
            "</tool_call>",
        ],
    )
    assert shown == "Let me check."
    [found] = parser.calls()
    assert found.name == "calculator" and json.loads(found.arguments) == {"percent": 17.5}


def test_text_that_only_looks_like_a_tag_start_is_shown_at_the_end() -> None:
    parser = ToolCallText()
    assert feed_all(parser, ["a < b and <tool"]) == "a < b and <tool" and parser.calls() == ()


def test_an_unreadable_block_becomes_a_call_without_a_name() -> None:
    parser = ToolCallText()
    feed_all(parser, ["<tool_call>{not json</tool_call>"])
    [found] = parser.calls()
    assert found.name == "" and found.arguments == "{not json"


async def test_scripted_models_emit_tool_calls_after_text_and_end_with_tool_calls() -> None:
    model = QueueModel(["Checking.", call("calculator", percent=1, of=2)])
    events = [event async for event in model.stream(ChatRequest.of([ChatMessage(role="user", content="q")]))]
    assert isinstance(events[0], TextDelta) and isinstance(events[1], ToolCallEvent)
    assert events[1].call.name == "calculator" and json.loads(events[1].call.arguments) == {
        "percent": 1,
        "of": 2,
    }
    assert isinstance(events[-1], StreamEnd) and events[-1].finish_reason == "tool_calls"


def test_messages_without_tool_fields_hash_exactly_as_before() -> None:
    plain = ChatRequest.of([ChatMessage(role="user", content="hi")])
    assert request_body(plain) == '[{"content": "hi", "role": "user"}]'
    with_call = ChatMessage(
        role="assistant", content="", tool_calls=(ToolCall(id="1", name="t", arguments="{}"),)
    )
    assert "tool_calls" in request_body(ChatRequest.of([with_call]))


def test_a_whole_answer_that_is_one_fenced_call_to_an_offered_tool_is_a_call() -> None:
    # What Qwen2.5-Coder-1.5B wrote here for "What's 17.5 % of 2,380?" with the calculator offered.
    call_json = '{\n  "name": "calculator",\n  "arguments": {\n    "expression": "17.5 % of 2,380"\n  }\n}'
    answer = f"```json\n{call_json}\n```"
    parser = ToolCallText(["calculator"])
    assert feed_all(parser, [answer[:3], answer[3:20], answer[20:]]) == ""
    [found] = parser.calls()
    assert found.name == "calculator" and json.loads(found.arguments) == {"expression": "17.5 % of 2,380"}


def test_json_that_is_not_call_shaped_is_shown_as_written() -> None:
    # A call to a tool that does not exist is a call (tests/test_tool_call_markup.py); an object with
    # keys a call does not have is an answer.
    answers = ['{"name": "Ada", "email": "ada@example.org"}', '```json\n{"a": 1}\n```', "`x` is a variable"]
    for answer in answers:
        parser = ToolCallText(["calculator"])
        assert feed_all(parser, [answer[:2], answer[2:]]) == answer and parser.calls() == ()


def test_prose_streams_at_once_when_tools_are_offered() -> None:
    parser = ToolCallText(["calculator"])
    assert parser.feed("  The answer") == "  The answer"


def test_an_answer_split_into_tiny_pieces_is_decided_once_enough_has_arrived() -> None:
    parser = ToolCallText(["calculator"])
    shown = [parser.feed(piece) for piece in [" ", "\n", "`", "`", "ok", " then"]]
    assert shown == [" ", "\n", "", "", "``ok", " then"]
    assert parser.flush() == "" and parser.calls() == ()


def test_the_chat_template_gets_tool_call_arguments_as_an_object() -> None:
    # Qwen 2.5's template renders `arguments | tojson`: a string would arrive escaped and quoted.
    message = ChatMessage(
        role="assistant", content="", tool_calls=(ToolCall(id="1", name="calculator", arguments='{"x": 1}'),)
    )
    [rendered] = template_message(message)["tool_calls"]
    assert rendered["function"]["arguments"] == {"x": 1}
    broken = message.model_copy(update={"tool_calls": (ToolCall(id="2", name="c", arguments="{oops"),)})
    assert template_message(broken)["tool_calls"][0]["function"]["arguments"] == "{oops"


def test_the_double_braces_of_qwens_format_line_are_read_as_one_call() -> None:
    # Qwen2.5-Coder-1.5B's second answer here, copying the template's `{{"name": ...}}` line.
    seen = '{{"name": "calculator", "arguments": {"expression": "1+1"}}'
    for written in [seen, '{{"name": "calculator"}}']:
        parser = ToolCallText(["calculator"])
        assert feed_all(parser, [written]) == ""
        assert [c.name for c in parser.calls()] == ["calculator"]
