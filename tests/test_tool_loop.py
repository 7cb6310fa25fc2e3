"""The tool loop with scripted models: validation and re-ask, bounds, repeated calls, permission
refusal, confirmation, privacy of arguments and taint by results (issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from assistant.tools.base import ToolResult, ToolSpec
from assistant.tools.loop import (
    ANSWER_NOW,
    LoopFinished,
    LoopTurn,
    ToolFinished,
    ToolLimits,
    ToolLoop,
    ToolStarted,
)
from assistant.tools.records import LoopReport, ToolCallRecord, sha256_text
from assistant.tools.rounds import RoutedRound
from assistant.tools.runner import MAX_RESULT_CHARS, ToolRunner
from knowledge.access import Principal
from models.base import ChatMessage, ChatRequest, TextDelta
from models.fakes import FunctionModel, QueueModel, call
from routing.routed import ModelSet
from routing.tiers import Route, Tier
from tests.support.tool_kit import (
    ALICE,
    SSN_CANARY,
    Catalog,
    Percent,
    ScriptedClassifier,
    ScriptedTool,
    decision,
    percent_tool,
    route_for,
    tool,
)

QUESTION = [ChatMessage(role="user", content="What's 17.5 % of 2,380?")]


@dataclass
class Recorder:
    calls: list[ToolCallRecord] = field(default_factory=list)
    loops: list[LoopReport] = field(default_factory=list)

    def on_tool_call(self, record: ToolCallRecord, *, principal: Principal, thread_id: str | None) -> None:
        self.calls.append(record)

    def on_tool_loop(self, report: LoopReport, *, principal: Principal, thread_id: str | None) -> None:
        self.loops.append(report)


@dataclass
class Run:
    events: list[object]
    finished: LoopFinished
    recorder: Recorder

    @property
    def report(self) -> LoopReport:
        return self.finished.report

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))


def answer_from_tool_result(request: ChatRequest) -> str:
    last = request.messages[-1]
    assert last.role == "tool", "the model answers only after the tool result"
    return f"17.5 % of 2,380 is {last.content}."


async def drive(
    hosted: object,
    tools: Sequence[ScriptedTool],
    *,
    local: object | None = None,
    principal: Principal = ALICE,
    tier: Tier = Tier.PUBLIC,
    limits: ToolLimits | None = None,
    confirm: object = None,
    restore: dict[str, str] | None = None,
    classifier: ScriptedClassifier | None = None,
) -> Run:
    recorder = Recorder()
    catalog = Catalog(tools)
    runner = ToolRunner(catalog, classifier or ScriptedClassifier(), confirm=confirm)  # type: ignore[arg-type]
    loop = ToolLoop(catalog, runner, limits or ToolLimits(), observers=[recorder])
    models = ModelSet(local=local or QueueModel(name="local", kind="local"), hosted=[hosted])  # type: ignore[list-item]
    turn = LoopTurn(principal=principal, decision=decision(tier), route_for=route_for, restore=restore or {})
    events = [event async for event in loop.run(turn, RoutedRound(models, QUESTION))]
    assert isinstance(events[-1], LoopFinished)
    return Run(events[:-1], events[-1], recorder)


async def test_acceptance_percent_question_calls_the_calculator_shows_the_step_and_answers() -> None:
    model = FunctionModel(
        lambda r: (
            answer_from_tool_result(r)
            if r.messages[-1].role == "tool"
            else call("calculator", percent=17.5, of=2380)
        ),
        name="strong",
        kind="hosted",
    )
    calculator = percent_tool()
    run = await drive(model, [calculator])
    started = [e for e in run.events if isinstance(e, ToolStarted)]
    finished = [e for e in run.events if isinstance(e, ToolFinished)]
    assert [e.call.name for e in started] == ["calculator"]
    assert finished[0].record.outcome == "ok" and finished[0].record.summary == "416.5"
    assert "416.5" in run.text
    assert run.report.termination == "answered" and run.report.steps == 1
    first, second = model.requests
    assert [t.name for t in first.tools] == ["calculator"]
    assert first.tools[0].parameters["properties"].keys() == {"percent", "of"}
    assert second.messages[-2].tool_calls[0].name == "calculator"
    assert second.messages[-1].role == "tool" and second.messages[-1].content == "416.5"
    assert calculator.runs == [Percent(percent=17.5, of=2380)]


async def test_invalid_arguments_are_sent_back_once_with_the_error_then_the_call_is_corrected() -> None:
    calculator = percent_tool()
    hosted = QueueModel(
        call("calculator", percent="lots", of=2380),
        call("calculator", percent=17.5, of=2380),
        "416.5",
        name="strong",
        kind="hosted",
    )
    run = await drive(hosted, [calculator])
    reask = hosted.requests[1].messages[-1]
    assert reask.role == "tool" and "percent" in reask.content and "not valid" in reask.content
    assert [r.outcome for r in run.report.records] == ["invalid_arguments", "ok"]
    assert run.report.termination == "answered" and len(calculator.runs) == 1


async def test_a_second_invalid_call_stops_the_loop_with_a_clear_message() -> None:
    calculator = percent_tool()
    hosted = QueueModel(call("calculator", percent="x", of=1), call("calculator", of=2), kind="hosted")
    run = await drive(hosted, [calculator])
    assert run.report.termination == "invalid_arguments"
    assert "arguments it cannot accept" in run.report.message
    assert calculator.runs == [] and len(hosted.requests) == 2


async def test_broken_json_from_the_model_is_an_invalid_call_not_a_crash() -> None:
    calculator = percent_tool()
    hosted = QueueModel(call("calculator", _raw='{"percent": 1,'), "sorry", kind="hosted")
    run = await drive(hosted, [calculator])
    assert run.report.records[0].outcome == "invalid_arguments"
    assert "not valid" in hosted.requests[1].messages[-1].content


async def test_a_repeated_identical_call_stops_the_loop_with_a_clear_message() -> None:
    echo = tool("lookup", "same answer")
    # Key order and spacing do not make a call different.
    first, again = call("lookup", _raw='{"expression": "a"}'), call("lookup", _raw='{ "expression":"a" }')
    # After the stop, one last round without tools; this model still asks for the tool.
    hosted = QueueModel(first, again, again, kind="hosted")
    run = await drive(hosted, [echo])
    assert run.report.termination == "repeated_call" and "same tool" in run.report.message
    assert len(echo.runs) == 1 and len(hosted.requests) == 3
    final = hosted.requests[2]
    # The unanswered round is dropped; the model is asked plainly for an answer.
    assert final.tools == () and [m.role for m in final.messages[-2:]] == ["tool", "user"]
    assert final.messages[-1].content == ANSWER_NOW


async def test_after_a_repeated_call_the_model_answers_from_the_results_it_has() -> None:
    echo = tool("lookup", "42")
    again = call("lookup", expression="a")
    hosted = QueueModel(call("lookup", expression="a"), again, "The answer is 42.", kind="hosted")
    run = await drive(hosted, [echo])
    assert run.report.termination == "repeated_call" and run.report.message == ""
    assert run.text == "The answer is 42." and len(echo.runs) == 1


async def test_the_loop_stops_at_max_steps() -> None:
    echo = tool("lookup")
    hosted = FunctionModel(lambda r: call("lookup", expression=str(len(r.messages))), kind="hosted")
    run = await drive(hosted, [echo], limits=ToolLimits(max_steps=3))
    assert run.report.termination == "max_steps" and run.report.steps == 3
    assert len(echo.runs) == 3 and len(hosted.requests) == 3
    assert "maximum number of steps" in run.report.message


async def test_the_loop_stops_at_the_token_budget() -> None:
    echo = tool("lookup")
    hosted = FunctionModel(lambda r: call("lookup", expression=str(len(r.messages))), kind="hosted")
    run = await drive(hosted, [echo], limits=ToolLimits(token_budget=1))
    assert run.report.termination == "token_budget" and len(hosted.requests) == 1


async def test_no_round_starts_once_the_wall_time_is_spent() -> None:
    hosted = QueueModel(kind="hosted")
    run = await drive(hosted, [tool("lookup")], limits=ToolLimits(wall_time_s=0))
    assert run.report.termination == "wall_time" and hosted.requests == []


async def test_a_tool_the_users_groups_may_not_use_is_not_offered_and_a_forced_call_is_refused() -> None:
    finance = tool("finance_report", "Q3 numbers", groups=frozenset({"finance"}))
    hosted = QueueModel(call("finance_report", expression="q3"), "I cannot see it.", kind="hosted")
    run = await drive(hosted, [finance, tool("lookup")])
    assert [t.name for t in hosted.requests[0].tools] == ["lookup"]
    [record] = run.recorder.calls
    assert record.outcome == "refused_permission" and record.name == "finance_report"
    assert finance.runs == [] and "not available" in hosted.requests[1].messages[-1].content


async def test_an_unknown_tool_is_recorded_as_not_found() -> None:
    hosted = QueueModel(call("rm_rf", expression="/"), "ok", kind="hosted")
    run = await drive(hosted, [tool("lookup")])
    assert run.report.records[0].outcome == "not_found"


def side_effecting() -> ScriptedTool:
    return tool("send_email", "sent", side_effects=True, idempotent=False)


async def test_a_side_effecting_tool_runs_only_after_the_user_confirms_the_exact_arguments() -> None:
    asked: list[tuple[str, BaseModel]] = []

    async def yes(spec: ToolSpec, arguments: BaseModel) -> bool:
        asked.append((spec.name, arguments))
        return True

    email = side_effecting()
    hosted = QueueModel(call("send_email", expression="to bob: hi"), "Sent.", kind="hosted")
    run = await drive(hosted, [email], confirm=yes)
    assert asked == [("send_email", email.spec.arguments(expression="to bob: hi"))]
    assert len(email.runs) == 1 and run.report.records[0].outcome == "ok"


async def test_cancelling_the_confirmation_leaves_nothing_done() -> None:
    async def no(spec: ToolSpec, arguments: BaseModel) -> bool:
        return False

    for confirm in (no, None):
        email = side_effecting()
        hosted = QueueModel(call("send_email", expression="to bob: hi"), "Not sent.", kind="hosted")
        run = await drive(hosted, [email], confirm=confirm)
        assert email.runs == [] and run.report.records[0].outcome == "declined_by_user"
        assert "nothing was done" in hosted.requests[1].messages[-1].content


async def test_only_idempotent_tools_are_retried() -> None:
    failures = iter([RuntimeError("flaky"), "fine"])
    flaky = tool("lookup", lambda _a: next(failures))
    run = await drive(QueueModel(call("lookup", expression="a"), "done", kind="hosted"), [flaky])
    assert run.report.records[0].outcome == "ok" and run.report.records[0].attempts == 2

    once = tool("charge", RuntimeError("declined"), idempotent=False)
    run = await drive(QueueModel(call("charge", expression="a"), "failed", kind="hosted"), [once])
    assert run.report.records[0].outcome == "error" and run.report.records[0].attempts == 1
    assert len(once.runs) == 1


async def test_a_regulated_tool_result_makes_the_rest_of_the_turn_local() -> None:
    lookup = tool("employee_record", f"SSN {SSN_CANARY}", max_argument_tier=Tier.REGULATED)
    hosted = QueueModel(call("employee_record", expression="bob"), name="strong", kind="hosted")
    local = QueueModel("Bob's record is on file.", name="local", kind="local")
    run = await drive(hosted, [lookup], local=local)
    assert run.report.result_tier is Tier.REGULATED
    assert run.finished.decision.tier is Tier.REGULATED and run.finished.decision.route is Route.LOCAL
    assert "tool “employee_record”" in run.finished.decision.tainted_by
    assert len(hosted.requests) == 1 and SSN_CANARY not in hosted.sent_text()
    assert SSN_CANARY in local.sent_text() and run.report.termination == "answered"


async def test_a_fixed_result_tier_taints_without_classifying() -> None:
    payroll = tool("payroll", "42", result_tier=Tier.REGULATED, max_argument_tier=Tier.REGULATED)
    classifier = ScriptedClassifier()
    local = QueueModel("done", kind="local")
    hosted = QueueModel(call("payroll", expression="x"), kind="hosted")
    run = await drive(hosted, [payroll], local=local, classifier=classifier)
    assert run.finished.decision.route is Route.LOCAL and classifier.seen == []


async def test_a_result_is_never_below_the_tier_its_tool_stored_it_with() -> None:
    """A passage stored as regulated stays regulated even when its text reads as public."""
    stored = ToolResult(content="The plan for case 17 is attached.", tier_floor=Tier.REGULATED)
    docs = tool("search_documents", stored, max_argument_tier=Tier.REGULATED)
    classifier = ScriptedClassifier()
    local = QueueModel("done", kind="local")
    hosted = QueueModel(call("search_documents", expression="case 17"), kind="hosted")
    run = await drive(hosted, [docs], local=local, classifier=classifier)
    assert ("tool-result", stored.content) in classifier.seen  # read, and still floored
    assert run.report.result_tier is Tier.REGULATED and run.finished.decision.route is Route.LOCAL
    assert len(hosted.requests) == 1 and "case 17 is attached" not in hosted.sent_text()


async def test_a_regulated_argument_never_reaches_an_external_tool() -> None:
    api = tool("crm_lookup", "found", destination="external")
    hosted = QueueModel(call("crm_lookup", expression=f"ssn {SSN_CANARY}"), "cannot", kind="hosted")
    run = await drive(hosted, [api])
    [record] = run.report.records
    assert record.outcome == "refused_privacy" and record.argument_tier is Tier.REGULATED
    assert api.runs == [] and SSN_CANARY not in record.detail


async def test_placeholders_are_restored_for_local_tools_only() -> None:
    restore = {"<PERSON_1>": 'Bob "B" Jones'}
    inside = tool("directory", "ok")
    outside = tool("crm_lookup", "ok", destination="external")
    hosted = QueueModel(
        [call("directory", expression="<PERSON_1>"), call("crm_lookup", expression="<PERSON_1>")],
        "done",
        kind="hosted",
    )
    await drive(hosted, [inside, outside], restore=restore)
    assert inside.runs[0].expression == 'Bob "B" Jones'  # type: ignore[attr-defined]
    assert inside.contexts[0].restore == restore
    assert outside.runs[0].expression == "<PERSON_1>" and outside.contexts[0].restore == {}  # type: ignore[attr-defined]


async def test_a_tool_that_outlives_its_timeout_is_stopped_and_reported() -> None:
    hung = tool("lookup", lambda _arguments: asyncio.sleep(30), timeout_s=0.01, idempotent=False)
    hosted = QueueModel(call("lookup", expression="a"), "It timed out.", kind="hosted")
    run = await drive(hosted, [hung])
    [record] = run.report.records
    assert record.outcome == "timeout" and record.attempts == 1
    assert "did not answer in time" in hosted.requests[1].messages[-1].content


async def test_a_long_result_is_cut_for_the_model_but_hashed_whole() -> None:
    long = "x" * (MAX_RESULT_CHARS + 500)
    hosted = QueueModel(call("lookup", expression="a"), "ok", kind="hosted")
    run = await drive(hosted, [tool("lookup", long)])
    shown = hosted.requests[1].messages[-1].content
    assert shown.startswith("x" * MAX_RESULT_CHARS) and shown.endswith("characters]")
    assert len(shown) < len(long) and run.report.records[0].result_sha256 == sha256_text(long)
