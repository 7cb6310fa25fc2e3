"""Tool calls at the terminal (`confidante chat`): each step on stderr in the UI's words, a
side-effecting tool asked at the terminal with its exact arguments (no terminal: not run), and the
kept MCP session's server process gone when the command exits."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.services import Services
from assistant.settings import Settings
from assistant.tools.base import ToolContext
from assistant.tools.chat_turn import ChatTools
from assistant.tools.records import ToolCallRecord
from assistant.tools.registry import ToolRegistry
from assistant.tools.settings import ToolSettings
from assistant.tools.terminal import NO_TERMINAL, TerminalConfirm, TerminalToolSteps, step_lines
from assistant.turns import Conversation
from assistant.ui.tool_steps import step_name, step_output
from models.base import ChatRequest
from models.fakes import FunctionModel, QueueModel, call
from tests.support.privacy import ScriptedPrivacy
from tests.support.tool_kit import Expression, ScriptedClassifier, tool

REPO = Path(__file__).resolve().parent.parent
RECORD = ToolCallRecord(
    call_id="c1", name="calculator", outcome="ok", arguments_sha256="0" * 64, result_sha256="0" * 64,
    latency_ms=7.0, destination="local", arguments_shown='{"expression": "17.5 % of 2,380"}', summary="416.5",
)  # fmt: skip


def test_a_step_reads_like_the_ui_step() -> None:
    lines = step_lines(RECORD)
    assert lines.splitlines() == [
        "[Tool: calculator]",
        "    {",
        '      "expression": "17.5 % of 2,380"',
        "    }",
        "    → 416.5",
        "    (done · 7 ms)",
    ]
    # The same facts in the same words as the Chainlit step.
    assert step_name(RECORD) in lines and step_output(RECORD) == "416.5\n\n_done · 7 ms_"
    refused = step_lines(dataclasses.replace(RECORD, outcome="refused_permission", summary=""))
    assert "(not permitted · 7 ms)" in refused


def _confirm(answer: str, *, interactive: bool = True) -> tuple[TerminalConfirm, io.StringIO]:
    out = io.StringIO()
    return TerminalConfirm(out, read_line=lambda: answer, interactive=lambda: interactive), out


@pytest.mark.parametrize(
    ("answer", "expected"), [("y\n", True), ("yes\n", True), ("\n", False), ("n\n", False), ("", False)]
)
async def test_a_confirmation_shows_the_exact_arguments_and_only_yes_runs(
    answer: str, expected: bool
) -> None:
    launch = tool("launch", side_effects=True)
    confirm, out = _confirm(answer)
    assert await confirm(launch.spec, Expression(expression="rocket to Mars")) is expected
    assert "launch wants to run with these arguments" in out.getvalue()
    assert '"expression": "rocket to Mars"' in out.getvalue() and "Run it? [y/N]" in out.getvalue()


async def test_without_a_terminal_nothing_is_asked_and_nothing_runs() -> None:
    confirm, out = _confirm("y\n", interactive=False)
    assert await confirm(tool("launch", side_effects=True).spec, Expression(expression="x")) is False
    assert NO_TERMINAL in out.getvalue() and "Run it?" not in out.getvalue()


async def test_the_pipeline_shows_steps_and_asks_at_the_terminal() -> None:
    launch = tool("launch", "launched", side_effects=True)

    def reply(request: ChatRequest) -> object:
        results = [m for m in request.messages if m.role == "tool"]
        return "Done." if results else call("launch", expression="rocket")

    chat_tools = ChatTools.build(
        ToolRegistry([launch]), ScriptedClassifier(), ToolSettings(), local_supports_tools=False
    )
    out = io.StringIO()
    confirm, asked = _confirm("y\n")
    chat_tools.show_with(TerminalToolSteps(out), confirm)
    hosted = FunctionModel(reply, name="strong", kind="hosted")  # type: ignore[arg-type]
    pipeline = ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=QueueModel(kind="local"), hosted=[hosted]),  # type: ignore[arg-type]
        privacy=ScriptedPrivacy(),
        services=TurnServices(tools=chat_tools),
    )
    [_ async for _ in pipeline.run(Conversation(id="c", principal=Principal(user_id="u")), "launch it")]
    assert len(launch.runs) == 1 and '"expression": "rocket"' in asked.getvalue()
    assert "[Tool: launch]" in out.getvalue() and "→ launched" in out.getvalue()


def _running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _gone(pid: int) -> bool:
    """The process has exited (and was reaped); waits a bounded while for the OS to catch up."""
    for _ in range(100):
        if not _running(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_confidante_chat_prints_steps_refuses_unconfirmed_side_effects_and_closes_mcp_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = tmp_path / "tools.toml"
    catalog.write_text(
        f"""
[[mcp_server]]
name = "helper"
transport = "stdio"
command = {str(sys.executable)!r}
args = ["-m", "tests.support.mcp_server"]
cwd = {str(REPO)!r}
tools = ["pid"]
session = "kept"
side_effects = false
timeout_s = 20
"""
    )
    for name in [k for k in os.environ if k.startswith(("CONFIDANTE_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONFIDANTE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONFIDANTE_TOOL_CATALOG__PATH", str(catalog))
    launch = tool("launch", "launched", side_effects=True)

    def reply(request: ChatRequest) -> object:
        results = [m for m in request.messages if m.role == "tool"]
        if not results:
            return ["Let me look.", call("helper_pid")]
        if len(results) == 1:
            return call("launch", expression="rocket")
        return "All done."

    def build_services(settings: Settings, **_: object) -> Services:
        chat_tools = ChatTools.build(
            ToolRegistry([launch]), ScriptedClassifier(), settings.tools, local_supports_tools=False
        )
        hosted = FunctionModel(reply, name="strong", kind="hosted")  # type: ignore[arg-type]
        models = ModelSet(local=QueueModel(kind="local"), hosted=[hosted])  # type: ignore[arg-type]
        privacy = ScriptedPrivacy()
        pipeline = ChatPipeline(
            settings=settings, models=models, privacy=privacy, services=TurnServices(tools=chat_tools)
        )
        return Services(settings=settings, pipeline=pipeline, models=models, privacy=privacy)  # type: ignore[arg-type]

    monkeypatch.setattr("assistant.services.build_services", build_services)
    result = CliRunner().invoke(main, ["chat", "what is the server's pid, then launch"])
    assert result.exit_code == 0, result.output
    assert "Let me look." in result.stdout and "All done." in result.stdout
    err = result.stderr
    match = re.search(r"\[Tool: helper_pid\]\n(?:.*\n)*?    → (\d+)\n    \(done · ", err)
    assert match, err
    assert "launch wants to run with these arguments" in err and '"expression": "rocket"' in err
    assert NO_TERMINAL in err and "(cancelled by you · " in err and launch.runs == []
    assert _gone(int(match.group(1)))  # the kept session's server exited with the command


@pytest.mark.slow
async def test_app_shutdown_closes_kept_mcp_sessions_while_the_loop_runs(tmp_path: Path) -> None:
    from assistant.tools.catalog import McpServerDeclaration
    from assistant.tools.mcp_tool import McpConnection, discover_mcp_tools

    declaration = McpServerDeclaration(
        name="helper", transport="stdio", command=sys.executable, args=["-m", "tests.support.mcp_server"],
        cwd=REPO, tools=["pid"], session="kept", side_effects=False, timeout_s=20,
    )  # fmt: skip
    registry = ToolRegistry(await discover_mcp_tools(McpConnection(declaration, environ={})))
    chat_tools = ChatTools.build(registry, ScriptedClassifier(), ToolSettings(), local_supports_tools=False)
    pid_tool = registry.get("helper_pid")
    result = await pid_tool.run(pid_tool.spec.arguments(), ToolContext(principal=Principal(user_id="u")))
    pid = int(result.content)
    assert _running(pid)  # the kept session's server is running
    models = ModelSet(local=QueueModel(kind="local"))  # type: ignore[arg-type]
    pipeline = ChatPipeline(
        settings=Settings(data_dir=tmp_path), models=models, privacy=ScriptedPrivacy(),  # type: ignore[arg-type]
        services=TurnServices(tools=chat_tools),
    )  # fmt: skip
    services = Services(
        settings=Settings(data_dir=tmp_path), pipeline=pipeline, models=models, privacy=ScriptedPrivacy()
    )  # type: ignore[arg-type]
    await services.aclose()  # what the app's shutdown hook awaits (`ChatApp.shutdown`)
    assert _gone(pid)
