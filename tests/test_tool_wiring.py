"""The chat turn's tools as the app builds them: on by default, off when disabled, the built-ins on, and the
acceptance question answered through the real `calculator` built-in with a scripted model."""

from __future__ import annotations

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.tools.chat_turn import ChatTools
from assistant.tools.records import ToolCallRecord
from assistant.tools.wiring import build_chat_tools, extend_with_catalog
from assistant.turns import Conversation, TurnResult
from assistant.ui.tool_steps import confirmation_text, step_name, step_output
from models.base import ChatRequest
from models.fakes import FunctionModel, QueueModel, call
from tests.support.privacy import ScriptedPrivacy
from tests.support.tool_kit import tool


def built_in(**tools: object) -> ChatTools | None:
    settings = Settings(tools=tools)  # type: ignore[arg-type]
    return build_chat_tools(settings, privacy=ScriptedPrivacy(), knowledge=None, governance=None)


def test_tools_are_on_by_default_off_when_disabled_and_the_built_ins_need_no_database() -> None:
    assert built_in(enabled=False) is None
    built = built_in()
    assert built is not None
    offered = [t.spec.name for t in built.catalog.offered_to(Principal(user_id="u"), "public")]
    assert offered == ["calculator", "current_date"]


async def test_acceptance_the_built_in_calculator_answers_17_5_percent_of_2380() -> None:
    def reply(request: ChatRequest) -> object:
        last = request.messages[-1]
        if last.role == "tool":
            return f"It is {last.content}."
        return call("calculator", expression="17.5 % of 2,380")

    hosted = FunctionModel(reply, name="strong", kind="hosted")  # type: ignore[arg-type]
    tools = built_in(enabled=True)
    p = ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=QueueModel(kind="local"), hosted=[hosted]),
        privacy=ScriptedPrivacy(),
        services=TurnServices(tools=tools),
    )
    events = [
        e
        async for e in p.run(
            Conversation(id="c", principal=Principal(user_id="u")), "What's 17.5 % of 2,380?"
        )
    ]
    result = events[-1]
    assert isinstance(result, TurnResult) and result.answer == "It is 416.5."
    assert hosted.requests[1].messages[-1].content == "416.5"


def test_the_step_and_the_confirmation_show_name_arguments_result_and_time() -> None:
    record = ToolCallRecord(
        call_id="c1", name="calculator", outcome="ok", arguments_sha256="0" * 64, result_sha256="0" * 64,
        latency_ms=12.4, destination="local", arguments_shown='{"expression": "1+1"}', summary="2",
    )  # fmt: skip
    assert step_name(record) == "Tool: calculator"
    assert step_output(record) == "2\n\n_done · 12 ms_"
    email = tool("send_email", side_effects=True)
    text = confirmation_text(email.spec, email.spec.arguments(expression="to bob: ```hi```"))
    assert "send_email" in text and "to bob:" in text and text.count("```") == 2


async def test_the_admin_catalog_is_added_to_the_built_ins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog = tmp_path / "tools.toml"
    catalog.write_text(
        '[[http_tool]]\nname = "exchange_rate"\ndescription = "Rates."\n'
        'url = "https://rates.example.com/v1/rates"\ngroups = ["finance"]\n'
    )
    settings = Settings(tools={"enabled": True}, tool_catalog={"path": catalog})  # type: ignore[arg-type]
    tools = build_chat_tools(settings, privacy=ScriptedPrivacy(), knowledge=None, governance=None)
    assert tools is not None and await extend_with_catalog(tools, settings) == []
    finance = Principal(user_id="f", groups=frozenset({"finance"}))
    assert [t.spec.name for t in tools.catalog.offered_to(finance, "public")][-1] == "exchange_rate"
    assert "exchange_rate" not in [
        t.spec.name for t in tools.catalog.offered_to(Principal(user_id="u"), "public")
    ]
