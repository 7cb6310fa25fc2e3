"""Tool calls in the Chainlit UI against a recorded Chainlit context: a collapsed step per call
with its name, arguments, result summary and time; confirmation buttons, where only an explicit
"Run it" is a yes."""

from __future__ import annotations

from typing import Any

import chainlit as cl
import pytest
from chainlit.context import context, init_http_context

from assistant.tools.records import ToolCallRecord
from assistant.ui.tool_steps import CANCEL, CONFIRM, ChainlitToolSteps, confirm_in_chat
from tests.support.tool_kit import tool


@pytest.fixture
async def sent() -> list[tuple[str, dict[str, Any]]]:
    init_http_context()
    events: list[tuple[str, dict[str, Any]]] = []
    for name in ("send_step", "update_step"):

        async def record(data: dict[str, Any], name: str = name) -> None:
            events.append((name, data))

        setattr(context.emitter, name, record)
    return events


async def test_a_finished_call_is_a_tool_step_with_name_arguments_summary_and_time(
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    record = ToolCallRecord(
        call_id="c1", name="calculator", outcome="ok", arguments_sha256="0" * 64, result_sha256="0" * 64,
        latency_ms=7.0, destination="local", arguments_shown='{"expression": "17.5 % of 2,380"}',
        summary="416.5",
    )  # fmt: skip
    await ChainlitToolSteps().tool_finished(record)
    step = [data for name, data in sent if name == "update_step"][-1]
    assert step["name"] == "Tool: calculator" and step["type"] == "tool"
    assert '"expression": "17.5 % of 2,380"' in step["input"]
    assert step["output"] == "416.5\n\n_done · 7 ms_"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ({"name": CONFIRM, "payload": {"answer": "yes"}}, True),
        ({"name": CANCEL, "payload": {"answer": "no"}}, False),
        (None, False),  # timed out
        (RuntimeError("socket closed"), False),
    ],
)
async def test_only_an_explicit_run_it_confirms(
    monkeypatch: pytest.MonkeyPatch, sent: object, response: object, expected: bool
) -> None:
    shown: list[str] = []

    async def send(self: cl.AskActionMessage) -> object:
        shown.append(self.content)
        assert [a.name for a in self.actions] == [CONFIRM, CANCEL]
        if isinstance(response, BaseException):
            raise response
        return response

    monkeypatch.setattr(cl.AskActionMessage, "send", send)
    email = tool("send_email", side_effects=True)
    assert await confirm_in_chat(email.spec, email.spec.arguments(expression="to bob: hi")) is expected
    assert "to bob: hi" in shown[0]
