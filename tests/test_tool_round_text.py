"""Text the model writes in a tool round (before it calls a tool) is part of the answer: streamed,
stored in the turn's answer and the chat's history, and so in a resumed chat."""

from __future__ import annotations

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.tools.chat_turn import ROUND_BREAK, ChatTools, joined_answer
from assistant.tools.settings import ToolSettings
from assistant.turns import AnswerDelta, Conversation, TurnResult
from models.base import ChatRequest
from models.fakes import FunctionModel, QueueModel, call
from tests.support.privacy import ScriptedPrivacy
from tests.support.tool_kit import Catalog, ScriptedClassifier, percent_tool, tool

FIRST = "Let me work that out with the calculator."
SECOND = "17.5 % of 2,380 is 416.5."


def pipeline(hosted: FunctionModel, *tools: object) -> ChatPipeline:
    chat_tools = ChatTools.build(
        Catalog(tools),  # type: ignore[arg-type]
        ScriptedClassifier(),
        ToolSettings(),
        local_supports_tools=False,
    )
    return ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=QueueModel(kind="local"), hosted=[hosted]),  # type: ignore[arg-type]
        privacy=ScriptedPrivacy(),
        services=TurnServices(tools=chat_tools),
    )


async def run(p: ChatPipeline, conversation: Conversation, text: str) -> tuple[str, TurnResult]:
    events = [event async for event in p.run(conversation, text)]
    streamed = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert isinstance(events[-1], TurnResult)
    return streamed, events[-1]


async def test_text_before_a_tool_call_is_kept_in_the_answer_and_the_history() -> None:
    def reply(request: ChatRequest) -> object:
        if request.messages[-1].role == "tool":
            return SECOND
        return [FIRST, call("calculator", percent=17.5, of=2380)]

    hosted = FunctionModel(reply, name="strong", kind="hosted")  # type: ignore[arg-type]
    p = pipeline(hosted, percent_tool())
    conversation = Conversation(id="c1", principal=Principal(user_id="u1"))
    streamed, result = await run(p, conversation, "What's 17.5 % of 2,380?")
    assert result.answer == f"{FIRST}{ROUND_BREAK}{SECOND}"
    assert streamed == result.answer  # what the user saw is what is stored
    assert conversation.history[-1].role == "assistant" and conversation.history[-1].content == result.answer
    # The next turn (and a resumed chat, rebuilt from the stored answer) sees both parts.
    hosted_next = FunctionModel(lambda r: "ok", name="strong", kind="hosted")  # type: ignore[arg-type]
    await run(pipeline(hosted_next), conversation, "thanks")
    assert hosted_next.requests[0].messages[-2].content == result.answer


async def test_a_tool_round_without_text_adds_no_break() -> None:
    def reply(request: ChatRequest) -> object:
        return "done." if request.messages[-1].role == "tool" else call("lookup", expression="x")

    hosted = FunctionModel(reply, name="strong", kind="hosted")  # type: ignore[arg-type]
    streamed, result = await run(
        pipeline(hosted, tool("lookup")), Conversation(id="c2", principal=Principal(user_id="u")), "go"
    )
    assert result.answer == "done." and streamed == "done."


def test_joining_rounds() -> None:
    assert joined_answer(None, "b") == "b"
    assert joined_answer("a", "b") == f"a{ROUND_BREAK}b"
    assert joined_answer("a", "") == "a"
    assert joined_answer("a", None) is None  # a failed round's message stands alone
