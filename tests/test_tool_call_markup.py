"""Tool-call markup a local model writes never reaches the user as text (the newcomer walkthrough
of session 6): bare and fenced calls, after leading text or as the whole answer, with or without a
language tag, `<tool_call>` tags, arguments as an object or a string, several calls, and calls to
tools that do not exist, which go to the loop as calls so it can tell the model so."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.tools.loop import LoopFinished, LoopTurn, ToolFinished, ToolLoop
from assistant.tools.rounds import RoutedRound
from assistant.tools.runner import ToolRunner
from models.base import ChatMessage, TextDelta
from models.local import LocalModel
from models.settings import LocalModelSettings
from models.tool_calls import ToolCallText
from routing.routed import ModelSet
from routing.tiers import Route, Tier
from tests.support.tool_kit import ALICE, Catalog, ScriptedClassifier, decision, percent_tool, route_for

CALL = '{"name": "read_section", "arguments": {"section": "leave"}}'
LEAD = "Sure, here is the note you asked for: "

# Every shape seen or allowed by the template, each with the calls it holds (name, arguments).
SHAPES: list[tuple[str, list[tuple[str, dict[str, object]]]]] = [
    (CALL, [("read_section", {"section": "leave"})]),
    (f"```json\n{CALL}\n```", [("read_section", {"section": "leave"})]),
    (f"```\n{CALL}\n```", [("read_section", {"section": "leave"})]),
    (f"```JSON {CALL}```", [("read_section", {"section": "leave"})]),
    (f"<tool_call>\n{CALL}\n</tool_call>", [("read_section", {"section": "leave"})]),
    (f"```xml\n<tool_call>\n{CALL}\n</tool_call>\n```", [("read_section", {"section": "leave"})]),
    ('{"name": "Thank You Note", "arguments": "{\\"to\\": \\"Ada\\"}"}', [("Thank You Note", {"to": "Ada"})]),
    (
        '{\n  "name": "calculator",\n  "parameters": {"expression": "2*3"}\n}',
        [("calculator", {"expression": "2*3"})],
    ),
    ('{"type": "function", "function": {"name": "calculator", "arguments": {}}}', [("calculator", {})]),
    ('{{"name": "calculator", "arguments": {"expression": "1+1"}}', [("calculator", {"expression": "1+1"})]),
    (
        f'```json\n[{CALL}, {{"name": "calculator", "arguments": {{"expression": "1"}}}}]\n```',
        [("read_section", {"section": "leave"}), ("calculator", {"expression": "1"})],
    ),
    (
        f'```json\n{CALL}\n{{"name": "calculator", "arguments": {{}}}}\n```',
        [("read_section", {"section": "leave"}), ("calculator", {})],
    ),
    (f"{CALL}\n{CALL}", [("read_section", {"section": "leave"})] * 2),
]


def split_every(text: str, size: int) -> list[str]:
    return [text[at : at + size] for at in range(0, len(text), size)] or [""]


def read(text: str, size: int, names: tuple[str, ...] = ("calculator",)) -> tuple[str, ToolCallText]:
    parser = ToolCallText(names)
    shown = "".join(parser.feed(piece) for piece in split_every(text, size)) + parser.flush()
    return shown, parser


def found(parser: ToolCallText) -> list[tuple[str, dict[str, object]]]:
    return [(c.name, json.loads(c.arguments)) for c in parser.calls()]


@pytest.mark.parametrize(("markup", "calls"), SHAPES)
@pytest.mark.parametrize("lead", ["", LEAD, "  \n"])
@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_call_markup_is_a_call_and_only_the_leading_text_is_shown(
    markup: str, calls: list[tuple[str, dict[str, object]]], lead: str, size: int
) -> None:
    shown, parser = read(lead + markup, size)
    assert shown.rstrip() == lead.rstrip()  # blanks between two calls may show: nothing else
    assert found(parser) == calls


@pytest.mark.parametrize(("markup", "calls"), SHAPES[:4])
def test_text_after_a_call_is_shown_too(markup: str, calls: list[tuple[str, dict[str, object]]]) -> None:
    shown, parser = read(f"{LEAD}{markup}\nLet me know if it helps.", 5)
    assert shown == f"{LEAD}\nLet me know if it helps."
    assert found(parser) == calls


ANSWERS = [
    "Use `{x}` in the template; a set is written {1, 2}.",
    'The config is ```json\n{"name": "Ada", "email": "ada@example.org"}\n``` as you asked.',
    '{"name": "Ada", "role": "engineer"}',
    "```python\nprint({'name': 1})\n```\nDone.",
    "```\nplain code\n```",
    "a < b and <tool",
    "Three backticks `` ` and a brace { at the end {",
    '{"name": broken json}',
    "[1, 2, 3] and ```[1, 2]```",
]


@pytest.mark.parametrize("answer", ANSWERS)
@pytest.mark.parametrize("size", [1, 4, 1000])
def test_text_that_is_not_call_markup_is_shown_exactly_as_written(answer: str, size: int) -> None:
    shown, parser = read(answer, size)
    assert shown == answer and parser.calls() == ()


def test_an_unfinished_call_at_the_end_is_held_back_not_shown() -> None:
    # A call cut off by the token limit: it is not shown half-written ...
    shown, parser = read(LEAD + CALL[:-10], 3)
    assert shown == LEAD + CALL[:-10]  # ... unless it cannot be read: then it is the model's text
    shown, parser = read(LEAD + "<tool_call>" + CALL[:-10], 3)
    assert shown == LEAD and [c.name for c in parser.calls()] == [""]


def test_without_tools_on_offer_only_tags_are_read() -> None:
    shown, parser = read(LEAD + CALL, 4, names=())
    assert shown == LEAD + CALL and parser.calls() == ()


def test_prose_with_no_markup_streams_without_delay() -> None:
    parser = ToolCallText(["calculator"])
    assert [parser.feed(piece) for piece in ["The answer", " is 4", " (see {"]] == [
        "The answer",
        " is 4",
        " (see ",
    ]
    assert parser.feed("1})") == "{1})"


class WritingLlama:
    """Stands in for llama_cpp.Llama (logic only): writes the scripted answer of each round in
    small pieces, the way a chat template makes a model write its calls as text."""

    def __init__(self, rounds: list[str]) -> None:
        self._rounds = iter(rounds)
        self.requests: list[list[dict[str, Any]]] = []

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(range(len(data.split())))

    def create_chat_completion(self, messages: list[dict[str, Any]], **_: Any) -> Iterator[dict[str, Any]]:
        self.requests.append(messages)
        for piece in split_every(next(self._rounds), 4):
            yield {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}


async def run_local_turn(rounds: list[str]) -> tuple[str, list[object], WritingLlama]:
    fake = WritingLlama(rounds)
    local = LocalModel(Path("unused.gguf"), LocalModelSettings(supports_tools=True), loader=lambda: fake)
    local.wait_ready()
    try:
        catalog = Catalog([percent_tool()])
        loop = ToolLoop(catalog, ToolRunner(catalog, ScriptedClassifier()))  # type: ignore[arg-type]
        turn = LoopTurn(principal=ALICE, decision=decision(Tier.PUBLIC, Route.LOCAL), route_for=route_for)
        question = [ChatMessage(role="user", content="Write a thank-you note to Ada.")]
        models = ModelSet(local=local, hosted=[])
        events = [e async for e in loop.run(turn, RoutedRound(models, question))]
    finally:
        local.close()
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, events, fake


@pytest.mark.parametrize(
    "written",
    [
        '```json\n{"name": "Thank You Note", "arguments": {"to": "Ada"}}\n```',
        '{"name": "read_section", "arguments": {"section": "thanks"}}',
        '<tool_call>\n{"name": "read_section", "arguments": "{}"}\n</tool_call>',
    ],
)
async def test_a_call_to_a_missing_tool_goes_to_the_loop_which_lets_the_model_answer(written: str) -> None:
    text, events, fake = await run_local_turn([LEAD + written, "Dear Ada, thank you."])
    assert text == LEAD + "Dear Ada, thank you."
    [step] = [e.record for e in events if isinstance(e, ToolFinished)]
    assert step.outcome == "not_found"
    told = fake.requests[1][-1]
    assert told["role"] == "tool" and "is not available here (no such tool)" in told["content"]
    finished = events[-1]
    assert isinstance(finished, LoopFinished) and finished.report.termination == "answered"


async def test_a_model_that_keeps_calling_a_missing_tool_never_shows_the_markup() -> None:
    call = '```json\n{"name": "read_section", "arguments": {}}\n```'
    text, events, _fake = await run_local_turn([LEAD + call, call, "I could not read that section."])
    assert "read_section" not in text and "```" not in text
    assert text == LEAD + "I could not read that section."
    finished = events[-1]
    assert isinstance(finished, LoopFinished) and finished.report.termination == "repeated_call"


def test_the_shapes_cover_each_form_in_the_brief() -> None:
    # Guards the table above against losing a form: fence with and without a tag, tags, string
    # arguments, several calls.
    forms = [m for m, _ in SHAPES]
    assert any(m.startswith("```json") for m in forms) and any(m.startswith("```\n") for m in forms)
    assert any(m.startswith("<tool_call>") for m in forms)
    assert any(isinstance(json.loads(m)["arguments"], str) for m in forms if m.startswith('{"name"'))
    assert any(len(c) > 1 for _, c in SHAPES)
    assert list(itertools.chain.from_iterable(c for _, c in SHAPES))


async def test_a_call_written_in_the_last_round_without_tools_is_dropped_not_shown() -> None:
    # After a repeated call the loop asks once more with no tools on offer; the model may still
    # write one (seen with small models): the user gets the text around it only.
    call = '```json\n{"name": "read_section", "arguments": {}}\n```'
    text, events, _fake = await run_local_turn([LEAD + call, call, "I cannot read it. " + call])
    assert text == LEAD + "I cannot read it. "
    finished = events[-1]
    assert isinstance(finished, LoopFinished) and finished.report.termination == "repeated_call"
