"""A hung hosted endpoint costs a turn one hosted window, however many tool rounds the turn has;
and a local model answering after the hosted ones failed is offered no tools unless configured.

Each tool round walks the chain again (`assistant.pipeline`, `routing.fallback.in_order`); the
endpoint a round found timed out or unreachable stays marked on the turn's clock
(`TurnClock.dead_endpoints`), so a later round skips every model on it instead of waiting for it
again (issue 17: three rounds of a Qwen fallback spent 3 x 8 s on one hung endpoint). Scripted
models; what is asserted is which models were asked, with what, and what the turn recorded.
"""

from __future__ import annotations

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.tools.chat_turn import ChatTools
from assistant.tools.settings import ToolSettings
from assistant.turns import Conversation, TurnResult
from models.base import ModelError, ModelTimeout, ModelUnavailable
from models.fakes import FunctionModel, QueueModel
from routing.reliability_settings import ReliabilitySettings
from routing.tiers import Tier
from routing.turn_budget import TurnBudget, TurnClock
from tests.support.privacy import ScriptedPrivacy
from tests.support.tool_kit import (
    Catalog,
    ScriptedClassifier,
    ScriptedTool,
    percent_model,
    percent_tool,
    tool,
)

API = "https://api.example/v1"


def hosted(name: str, error: ModelError) -> QueueModel:
    model = QueueModel(name=name, kind="hosted", default=error)
    model.endpoint = API  # type: ignore[attr-defined]
    return model


def pipeline(
    local: FunctionModel | QueueModel,
    chain: list[QueueModel],
    *,
    fallback_tools: bool = True,
    offered: ScriptedTool | None = None,
) -> ChatPipeline:
    catalog = Catalog([offered or percent_tool()])
    tools = ChatTools.build(catalog, ScriptedClassifier(), ToolSettings(), local_supports_tools=True)
    reliability = ReliabilitySettings(local_fallback_tools=fallback_tools)
    return ChatPipeline(
        settings=Settings(reliability=reliability),
        models=ModelSet(local=local, hosted=chain),  # type: ignore[arg-type]
        privacy=ScriptedPrivacy(),
        services=TurnServices(tools=tools),
    )


async def turn(p: ChatPipeline, text: str = "What's 17.5 % of 2,380?") -> TurnResult:
    conversation = Conversation(id="c1", principal=Principal(user_id="u1"))
    events = [event async for event in p.run(conversation, text)]
    assert isinstance(events[-1], TurnResult)
    return events[-1]


async def test_a_timed_out_endpoint_is_skipped_by_every_later_tool_round() -> None:
    strong, cheap = hosted("strong", ModelTimeout("no first token")), hosted("cheap", ModelTimeout("x"))
    local = percent_model("qwen", "local")  # a two-round turn
    result = await turn(pipeline(local, [strong, cheap]))
    assert result.answer == "17.5 % of 2,380 is 416.5." and result.model == "qwen"
    assert len(strong.requests) == 1 and cheap.requests == []  # asked once, in the first round
    assert len(local.requests) == 2
    assert result.timing is not None
    spans = [(s.phase, s.model) for s in result.timing.spans if s.phase in ("attempt", "skip")]
    assert spans == [
        ("attempt", "strong"),
        ("skip", "cheap"),
        ("attempt", "qwen"),
        ("skip", "strong"),  # the second round: the endpoint is still marked
        ("skip", "cheap"),
        ("attempt", "qwen"),
    ]


async def test_an_http_error_marks_nothing_so_the_next_round_asks_again() -> None:
    """A 500 is about one request, not the endpoint: the next round tries the hosted model again."""
    strong = hosted("strong", ModelUnavailable("server error", status=500))
    local = percent_model("qwen", "local")  # a two-round turn
    result = await turn(pipeline(local, [strong]))
    assert result.model == "qwen" and len(strong.requests) == 2


def test_a_later_round_shares_the_turns_dead_endpoints() -> None:
    first = TurnClock(TurnBudget(hosted_s=8.0))
    later = first.for_round()
    later.dead_endpoints.add(API)
    assert first.dead_endpoints == {API} and later.budget.answer_s is None


# -- tools on a local fallback --------------------------------------------------------------------


async def test_a_local_fallback_is_offered_no_tools_by_default() -> None:
    strong = hosted("strong", ModelTimeout("no first token"))
    local = QueueModel("Red, blue and green.", name="qwen", kind="local")
    result = await turn(pipeline(local, [strong], fallback_tools=False))
    assert result.model == "qwen" and result.answer == "Red, blue and green."
    assert [t.name for t in strong.requests[0].tools] == ["calculator"]  # the hosted model had them
    assert local.requests[0].tools == ()
    assert ReliabilitySettings().local_fallback_tools is False


async def test_a_local_fallback_keeps_its_tools_when_configured() -> None:
    strong = hosted("strong", ModelTimeout("no first token"))
    local = percent_model("qwen", "local")  # a two-round turn
    result = await turn(pipeline(local, [strong], fallback_tools=True))
    assert result.answer == "17.5 % of 2,380 is 416.5."
    assert [t.name for t in local.requests[0].tools] == ["calculator"]


async def test_a_local_only_turn_keeps_its_tools() -> None:
    """Not a fallback: nothing hosted was tried, so the local model is offered the tools."""
    strong = hosted("strong", ModelTimeout("never asked"))
    local = QueueModel("Your record is on file.", name="qwen", kind="local")
    lookup = tool("employee_record", "on file", max_argument_tier=Tier.REGULATED)
    p = pipeline(local, [strong], fallback_tools=False, offered=lookup)
    result = await turn(p, "Is my record on file? My SSN is 078-05-1120.")
    assert result.route == "local" and strong.requests == []
    assert [t.name for t in local.requests[0].tools] == ["employee_record"]
