"""Tool calls inside a chat turn (the pipeline's hook), with scripted models and privacy: the step
is shown, the answer is the tool's, a regulated result keeps the turn and the chat local, a model
that cannot call tools is offered none, and a bound ends the answer with its message."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.tools.chat_turn import ChatTools
from assistant.tools.records import ToolCallRecord
from assistant.tools.settings import ToolSettings
from assistant.turns import Conversation, TurnResult
from models.base import ChatRequest
from models.fakes import FunctionModel, QueueModel, call
from routing.cache import ResponseCache
from routing.tiers import Tier
from tests.support.privacy import ScriptedPrivacy
from tests.support.tool_kit import (
    SSN_CANARY,
    Catalog,
    ScriptedClassifier,
    ScriptedTool,
    percent_model,
    percent_tool,
    tool,
)


@dataclass
class Steps:
    shown: list[ToolCallRecord] = field(default_factory=list)

    async def tool_finished(self, record: ToolCallRecord) -> None:
        self.shown.append(record)


def pipeline(
    local: object, hosted: object | None, tools: list[ScriptedTool], steps: Steps, **settings: object
) -> ChatPipeline:
    catalog = Catalog(tools)
    chat_tools = ChatTools.build(
        catalog,
        ScriptedClassifier(),
        ToolSettings(**settings),
        local_supports_tools=False,
        steps=steps,  # type: ignore[arg-type]
    )
    return ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=local, hosted=[hosted] if hosted else []),  # type: ignore[arg-type]
        privacy=ScriptedPrivacy(),
        services=TurnServices(tools=chat_tools),
    )


async def ask(p: ChatPipeline, conversation: Conversation, text: str) -> TurnResult:
    events = [event async for event in p.run(conversation, text)]
    assert isinstance(events[-1], TurnResult)
    return events[-1]


async def test_acceptance_a_percent_question_calls_the_calculator_shows_the_step_and_answers_416_5() -> None:
    steps, hosted = Steps(), percent_model("strong", "hosted")
    p = pipeline(QueueModel(kind="local"), hosted, [percent_tool()], steps)
    result = await ask(p, Conversation(id="c1", principal=Principal(user_id="u1")), "What's 17.5 % of 2,380?")
    assert result.answer == "17.5 % of 2,380 is 416.5." and result.outcome == "ok"
    assert [(r.name, r.outcome, r.summary) for r in steps.shown] == [("calculator", "ok", "416.5")]
    first, second = hosted.requests
    assert [t.name for t in first.tools] == ["calculator"]
    assert second.messages[-1].role == "tool" and second.messages[-1].content == "416.5"
    # The turn is charged for both rounds.
    expected = sum(hosted.count_tokens(m.content) for r in hosted.requests for m in r.messages)
    assert result.usage.prompt_tokens >= expected


async def test_a_regulated_tool_result_keeps_the_turn_and_the_chat_on_the_local_model() -> None:
    lookup = tool("employee_record", f"SSN {SSN_CANARY}", max_argument_tier=Tier.REGULATED)
    hosted = QueueModel(call("employee_record", expression="bob"), name="strong", kind="hosted")
    local = QueueModel("Bob's record is on file.", "Hello again.", name="local", kind="local")
    conversation = Conversation(id="c2", principal=Principal(user_id="u1"))
    p = pipeline(local, hosted, [lookup], Steps())
    result = await ask(p, conversation, "Look up Bob's record")
    assert result.receipt.tier is Tier.REGULATED and result.route == "local"
    assert conversation.tier is Tier.REGULATED
    second = await ask(p, conversation, "hello")
    assert second.route == "local" and len(hosted.requests) == 1
    assert SSN_CANARY not in hosted.sent_text() and SSN_CANARY in local.sent_text()


async def test_a_local_model_without_tool_support_is_offered_no_tools_and_no_loop_runs() -> None:
    steps, local = Steps(), QueueModel("plain answer", name="local", kind="local")
    p = pipeline(local, None, [percent_tool()], steps)
    result = await ask(p, Conversation(id="c3", principal=Principal(user_id="u1")), "What's 17.5 % of 2,380?")
    assert result.answer == "plain answer" and local.requests[0].tools == () and steps.shown == []


async def test_a_bound_ends_the_answer_with_its_message() -> None:
    hosted = FunctionModel(lambda r: call("lookup", expression=str(len(r.messages))), kind="hosted")
    p = pipeline(QueueModel(kind="local"), hosted, [tool("lookup")], Steps(), max_steps=2)
    result = await ask(p, Conversation(id="c4", principal=Principal(user_id="u1")), "loop please")
    assert result.answer.endswith("I stopped using tools after the maximum number of steps for one message.")
    assert len(hosted.requests) == 2


async def test_an_answer_built_on_a_tool_result_is_not_cached() -> None:
    hosted = percent_model("strong", "hosted")
    p = pipeline(QueueModel(kind="local"), hosted, [percent_tool()], Steps())
    p.services.cache = ResponseCache.from_settings(Settings().reliability)
    for thread in ("c5", "c6"):
        conversation = Conversation(id=thread, principal=Principal(user_id="u1"))
        result = await ask(p, conversation, "What's 17.5 % of 2,380?")
        assert not result.cached
    assert len(hosted.requests) == 4


async def test_an_internal_tool_result_makes_the_next_hosted_round_pseudonymized() -> None:
    directory = tool("directory", "The owner is Alice.")

    def reply(request: ChatRequest) -> object:
        if request.messages[-1].role == "tool":
            return f"Answer: {request.messages[-1].content}"
        return call("directory", expression="owner of the Q3 plan")

    hosted = FunctionModel(reply, name="strong", kind="hosted")  # type: ignore[arg-type]
    catalog, privacy = Catalog([directory]), ScriptedPrivacy()
    chat_tools = ChatTools.build(catalog, privacy, ToolSettings(), local_supports_tools=False)
    p = ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=QueueModel(kind="local"), hosted=[hosted]),
        privacy=privacy,
        services=TurnServices(tools=chat_tools),
    )
    result = await ask(p, Conversation(id="c7", principal=Principal(user_id="u1")), "Who owns the Q3 plan?")
    assert result.receipt.tier is Tier.INTERNAL
    sent = "\n".join(m.content for r in hosted.requests for m in r.messages)
    assert "Alice" not in sent and "<PERSON_1>" in hosted.requests[1].messages[-1].content
    assert result.answer == "Answer: The owner is Alice."  # restored for the user only
