"""A tool turn whose last round writes nothing ends with a sentence, not an empty bubble (seen on
a fresh install: the "Summarize a document" starter, three document tool calls, 90 s, no text)."""

from __future__ import annotations

from assistant.identity import Principal
from assistant.pipeline import NO_ANSWER_AFTER_TOOLS
from assistant.turns import AnswerDelta, Conversation, TurnResult
from models.base import ChatRequest, ToolCall
from models.fakes import FunctionModel, QueueModel, call
from tests.support.tool_kit import percent_tool
from tests.test_tool_chat_turn import Steps, pipeline


def _silent_after_the_tool() -> FunctionModel:
    def reply(request: ChatRequest) -> str | ToolCall:
        return "" if request.messages[-1].role == "tool" else call("calculator", percent=10, of=50)

    return FunctionModel(reply, name="strong", kind="hosted")


async def test_an_empty_answer_after_tool_calls_becomes_a_sentence() -> None:
    steps = Steps()
    p = pipeline(QueueModel(kind="local"), _silent_after_the_tool(), [percent_tool()], steps)
    events = [e async for e in p.run(Conversation(id="c1", principal=Principal(user_id="u1")), "10 % of 50?")]
    result = events[-1]
    assert isinstance(result, TurnResult)
    assert [r.name for r in steps.shown] == ["calculator"]  # the tool ran; only the answer was empty
    assert result.answer == NO_ANSWER_AFTER_TOOLS
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)).strip() == NO_ANSWER_AFTER_TOOLS
