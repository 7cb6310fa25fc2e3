"""Tools in experiments (issue 18), with scripted models through the real services: a tools
experiment assigns users stickily; its "off" arm is offered no tool, its capped arm stops after
one tool round; the tool audit records name the variant; the figures per variant count tool calls
and limit stops; and no variant moves a regulated turn off the local model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from assistant.experiments.metrics import compare
from assistant.experiments.models import ExperimentSpec, Variant
from assistant.experiments.report import TOOL_ROWS, text_table
from assistant.experiments.store import ExperimentStore
from assistant.experiments.tools_variant import ExperimentTools
from assistant.governance.tables import AuditRow
from assistant.identity import Principal
from assistant.pipeline import ModelSet
from assistant.services import Services, build_services
from assistant.turns import Conversation, TurnResult
from models.base import ChatRequest
from models.fakes import FunctionModel, QueueModel, call
from tests.support.experiment_kit import traffic_settings

USERS = 40


def tools_ab() -> ExperimentSpec:
    return ExperimentSpec(
        id="tools-ab",
        capability="tools",
        variants=(
            Variant(name="capped", share=0.5, tool_max_steps=1),
            Variant(name="off", share=0.5, tools=False),
        ),
    )


def _hosted(request: ChatRequest) -> object:
    """Calls the calculator once, then answers from its result."""
    last = request.messages[-1]
    if last.role == "tool":
        return f"It is {last.content}."
    if request.tools:
        return call("calculator", expression="17.5 % of 2,380")
    return "I would need a calculator for that."


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    settings = traffic_settings(tmp_path_factory.mktemp("tools-ab"))
    hosted = FunctionModel(_hosted, name="strong", kind="hosted")  # type: ignore[arg-type]
    local = QueueModel(default="local answer", name="local", kind="local")
    from tests.support.privacy import ScriptedPrivacy

    built = build_services(settings, models=ModelSet(local=local, hosted=[hosted]), privacy=ScriptedPrivacy())
    assert built.governance is not None
    ExperimentStore(built.governance.engine).create(tools_ab(), created_by="admin")
    asyncio.run(_traffic(built))
    yield built
    built.close()


async def _traffic(services: Services) -> None:
    for index in range(USERS):
        conversation = Conversation(
            id=f"thread-{index:02d}", principal=Principal(user_id=f"user-{index:02d}")
        )
        result = [e async for e in services.pipeline.run(conversation, "What's 17.5 % of 2,380?")][-1]
        assert isinstance(result, TurnResult)


def _arm(services: Services, user: str) -> str:
    assert services.governance is not None
    chosen = ExperimentStore(services.governance.engine).variant_for(user, "tools")
    assert chosen is not None
    return chosen.variant.name


def test_the_app_tools_apply_the_running_tools_experiment(services: Services) -> None:
    assert isinstance(services.pipeline.services.tools, ExperimentTools)


def test_each_arm_gets_its_tools_and_the_audit_names_the_variant(services: Services) -> None:
    assert services.governance is not None
    with Session(services.governance.engine) as session:
        records = session.exec(select(AuditRow).where(AuditRow.kind.in_(("tool_call", "tool_loop")))).all()  # type: ignore[attr-defined]
    by_thread: dict[str, list[AuditRow]] = {}
    for record in records:
        by_thread.setdefault(record.thread_id or "", []).append(record)
    arms = {f"thread-{i:02d}": _arm(services, f"user-{i:02d}") for i in range(USERS)}
    assert set(arms.values()) == {"capped", "off"}
    for thread, arm in arms.items():
        found = by_thread.get(thread, [])
        if arm == "off":
            assert found == []  # no tool was offered, so none was called
            continue
        assert sorted(r.kind for r in found) == ["tool_call", "tool_loop"]
        assert all((r.detail or "").startswith("variant tools-ab/capped; ") for r in found)
        loop = next(r for r in found if r.kind == "tool_loop")
        assert "termination=max_steps" in (loop.detail or "")  # one round allowed, then the limit
    # Every turn's routing decision names its tools variant, the off arm's too.
    with Session(services.governance.engine) as session:
        decisions = session.exec(select(AuditRow).where(AuditRow.kind == "routing_decision")).all()
    assert len(decisions) == USERS
    for decision in decisions:
        assert f"; tools variant tools-ab/{arms[decision.thread_id or '']};" in (decision.detail or "")
    assert services.governance.audit.verify().ok


def test_figures_per_variant_count_tool_calls_and_limit_stops(services: Services) -> None:
    assert services.governance is not None
    facts = ExperimentStore(services.governance.engine).turn_facts("tools-ab")
    assert len(facts) == USERS  # every turn counted for its tools variant
    for fact in facts:
        if fact.variant == "off":
            assert (fact.tool_calls, fact.tool_limit) == (0, None)
        else:
            assert (fact.tool_calls, fact.tool_limit) == (1, True) and fact.model_calls == 1
    capped, off = compare(facts, ["capped", "off"], min_n=5)
    assert capped.tool_calls_per_query.value == 1.0 and off.tool_calls_per_query.value == 0.0
    assert capped.tool_limit_rate.value == 1.0 and off.tool_limit_rate.value is None  # no loop ran
    table = text_table([capped, off], rows=TOOL_ROWS)
    assert "Tool calls per query" in table and "Tool loops stopped by a limit" in table


def test_a_regulated_turn_stays_local_in_every_arm(services: Services) -> None:
    hosted = services.models.hosted[0]
    sent_before = len(hosted.requests)  # type: ignore[attr-defined]

    async def ask(user: str) -> TurnResult:
        conversation = Conversation(id=f"secret-{user}", principal=Principal(user_id=user))
        events = [e async for e in services.pipeline.run(conversation, "My SSN is 078-05-1120, add 2 and 2")]
        assert isinstance(events[-1], TurnResult)
        return events[-1]

    arms = {_arm(services, f"user-{i:02d}"): f"user-{i:02d}" for i in range(USERS)}
    for user in arms.values():
        result = asyncio.run(ask(user))
        assert result.route == "local" and result.model == "local"
    assert len(hosted.requests) == sent_before  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("capability", "fields"),
    [
        ("chat", {"tools": False}),
        ("chat", {"tool_max_steps": 2}),
        ("tools", {"prompt_template": "chat-v2-concise"}),
        ("tools", {"map_prompt": "map-v2-facts"}),
        ("summaries", {"tools": True}),
        ("summaries", {"retrieval_k": 3}),
        ("chat", {"batch_map_tokens": 300}),
    ],
)
def test_a_variant_sets_only_its_capabilitys_settings(capability: str, fields: dict[str, object]) -> None:
    variants = [{"name": "a", "share": 0.5, **fields}, {"name": "b", "share": 0.5}]
    with pytest.raises(ValidationError, match="does not use"):
        ExperimentSpec.model_validate({"id": "x", "capability": capability, "variants": variants})
    with pytest.raises(ValidationError):
        Variant.model_validate({"name": "a", "share": 1.0, "tool_max_steps": 11})  # bounded


def test_a_capped_loop_never_raises_the_admins_limit() -> None:
    from assistant.experiments.tools_variant import capped
    from assistant.tools.loop import ToolLimits, ToolLoop

    loop = ToolLoop(catalog=None, runner=None, limits=ToolLimits(max_steps=3))  # type: ignore[arg-type]
    assert capped(loop, 1).limits.max_steps == 1 and capped(loop, 10).limits.max_steps == 3
    assert loop.limits.max_steps == 3  # the app's loop is untouched


def test_show_and_the_page_give_the_tool_rows_for_a_tools_experiment(services: Services) -> None:
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from assistant.experiments.cli import experiments as experiments_cli
    from assistant.experiments.models import Experiment
    from assistant.ui.experiments_console import render_comparison

    shown = CliRunner().invoke(
        experiments_cli, ["show", "tools-ab", "--min-n", "5"], obj={"settings": services.settings}
    )
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.output.splitlines() if x.startswith("Tool calls per query"))
    assert "1.00" in line and "0.00" in line
    assert "Graded accuracy" not in shown.output  # reviewers grade chat answers, not tools arms
    listed = CliRunner().invoke(experiments_cli, ["list"], obj={"settings": services.settings})
    assert "capped 50% (at most 1 tool step)" in listed.output and "off 50% (tools off)" in listed.output
    experiment = Experiment(**tools_ab().model_dump(), created_at=datetime.now(UTC))
    html = render_comparison(experiment, compare([], ["capped", "off"]), {})
    assert "Tool loops stopped by a limit</th>" in html and "Graded accuracy" not in html


def test_cli_variants_for_tools_and_summaries_parse(services: Services) -> None:
    from click.testing import CliRunner

    from assistant.experiments.cli import experiments as experiments_cli

    runner, obj = CliRunner(), {"settings": services.settings}
    made = runner.invoke(
        experiments_cli,
        [
            "create",
            "sum-ab",
            "--capability",
            "summaries",
            "--variant",
            "a:0.5",
            "--variant",
            "b:0.5:map=map-v2-facts,batch=300",
        ],
        obj=obj,
    )
    assert made.exit_code == 0, made.output
    assert "b 50% (map prompt map-v2-facts, batch 300 tokens)" in made.output
    wrong = runner.invoke(
        experiments_cli,
        [
            "create",
            "bad-ab",
            "--capability",
            "summaries",
            "--variant",
            "a:0.5:tools=off",
            "--variant",
            "b:0.5",
        ],
        obj=obj,
    )
    assert wrong.exit_code != 0 and "does not use" in wrong.output
    runner.invoke(experiments_cli, ["stop", "sum-ab"], obj=obj)


def test_a_stored_experiment_from_before_the_capability_check_still_loads(services: Services) -> None:
    from assistant.governance.tables import ExperimentRow

    assert services.governance is not None
    chat_setting = {"name": "b", "share": 0.5, "prompt_template": "chat-v2-concise"}
    old = ExperimentRow(
        id="old-summaries", capability="summaries", status="stopped", created_by="admin",
        variants=[{"name": "a", "share": 0.5}, chat_setting],
    )  # fmt: skip
    with Session(services.governance.engine) as session:
        session.add(old)
        session.commit()
    loaded = ExperimentStore(services.governance.engine).get("old-summaries")
    assert loaded is not None and loaded.variant("b").prompt_template == "chat-v2-concise"


def test_a_turn_reads_its_variant_and_its_tools_variant_in_one_query(services: Services) -> None:
    """Both come from the same store: one statement at the turn's start answers both (each was
    ~0.2 ms before the first token, issue 15), and both still apply."""
    from sqlalchemy import event

    assert services.governance is not None
    engine = services.governance.engine
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "experiment" in statement.lower() and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        conversation = Conversation(id="thread-one-query", principal=Principal(user_id="user-07"))
        events = asyncio.run(_collect(services, conversation))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    result = events[-1]
    assert isinstance(result, TurnResult) and result.tools_variant is not None
    assert result.tools_variant.variant.name == _arm(services, "user-07")
    assert len(statements) == 1, statements


async def _collect(services: Services, conversation: Conversation) -> list[object]:
    return [e async for e in services.pipeline.run(conversation, "What's 17.5 % of 2,380?")]
