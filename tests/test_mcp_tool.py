"""MCP tools against a real MCP server (the SDK's FastMCP) on stdio and on streamable HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.tools.base import ToolContext
from assistant.tools.catalog import CatalogError, McpServerDeclaration
from assistant.tools.mcp_tool import McpConnection, McpServerError, McpTool, discover_mcp_tools
from knowledge.access import Principal
from routing.tiers import Tier
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parent.parent
CONTEXT = ToolContext(principal=Principal(user_id="alice"))
STDIO = {
    "transport": "stdio",
    "command": sys.executable,
    "args": ["-m", "tests.support.mcp_server"],
    "cwd": REPO,
}
pytestmark = pytest.mark.slow


def _stdio(**fields) -> McpServerDeclaration:
    return McpServerDeclaration(name="helper", **{**STDIO, **fields})


async def _tools(declaration: McpServerDeclaration, environ=None) -> dict[str, McpTool]:
    tools = await discover_mcp_tools(McpConnection(declaration, environ=environ or {}))
    return {tool.spec.name: tool for tool in tools}


async def _call(tool: McpTool, **arguments):
    return await tool.run(tool.spec.arguments(**arguments), CONTEXT)


async def test_stdio_server_tools_become_external_tools_with_the_servers_permissions() -> None:
    declaration = _stdio(groups=["eng"], max_argument_tier="internal", result_tier="internal", timeout_s=20)
    tools = await _tools(declaration)
    assert set(tools) == {
        "helper_add",
        "helper_echo",
        "helper_big",
        "helper_fail",
        "helper_whoami",
        "helper_ssn_record",
        "helper_pid",
        "helper_crash",
    }
    add = tools["helper_add"].spec
    assert add.destination == "external" and add.groups == frozenset({"eng"})
    assert add.max_argument_tier == Tier.INTERNAL and add.result_tier == Tier.INTERNAL
    # Annotations are only hints: unless the admin says otherwise, a server tool has side effects.
    assert add.side_effects and not add.idempotent
    assert set(add.json_schema()["properties"]) == {"a", "b"}

    result = await _call(tools["helper_add"], a=2, b=40)
    assert result.content == "42" and not result.is_error
    assert (await _call(tools["helper_echo"], text="hi", shout=True)).content == "HI"
    assert (await _call(tools["helper_echo"], text="hi")).content == "hi"  # optional argument left out


async def test_answers_are_capped_and_failures_are_error_results() -> None:
    tools = await _tools(_stdio(max_response_bytes=1000, side_effects=False, tools=["big", "fail"]))
    assert set(tools) == {"helper_big", "helper_fail"}
    assert not tools["helper_big"].spec.side_effects and tools["helper_big"].spec.idempotent
    big = await _call(tools["helper_big"])
    assert (
        big.content.startswith("x" * 1000) and "cut at 1000 bytes" in big.content and len(big.content) < 1100
    )
    failed = await _call(tools["helper_fail"])
    assert failed.is_error and "failed on purpose" in failed.content


async def test_only_named_environment_variables_reach_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIDANTE_TEST_MCP_TOKEN", "from-our-environment")
    unnamed = await _tools(_stdio(tools=["whoami"]), environ={"CONFIDANTE_TEST_MCP_TOKEN": "x"})
    assert (await _call(unnamed["helper_whoami"])).content == "unset"
    named = await _tools(
        _stdio(tools=["whoami"], env_from=["CONFIDANTE_TEST_MCP_TOKEN"]),
        environ={"CONFIDANTE_TEST_MCP_TOKEN": "tok"},
    )
    assert (await _call(named["helper_whoami"])).content == "tok"
    with pytest.raises(CatalogError, match="CONFIDANTE_TEST_MCP_TOKEN"):
        McpConnection(_stdio(env_from=["CONFIDANTE_TEST_MCP_TOKEN"]), environ={})


async def test_a_server_that_cannot_start_is_a_clear_error() -> None:
    broken = McpServerDeclaration(
        name="broken",
        transport="stdio",
        command=sys.executable,
        args=["-c", "raise SystemExit(3)"],
        timeout_s=5,
    )
    with pytest.raises(McpServerError, match="MCP server broken: could not list its tools"):
        await discover_mcp_tools(McpConnection(broken, environ={}))


@pytest.fixture(scope="module")
def http_mcp_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.mcp_server", "--http", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        for _ in range(300):  # readiness, not timing: poll until the port answers
            try:
                httpx.get(url, timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_streamable_http_server(http_mcp_server: str) -> None:
    declaration = McpServerDeclaration(
        name="remote", transport="streamable_http", url=http_mcp_server, tools=["add"]
    )
    tools = await _tools(declaration)
    assert list(tools) == ["remote_add"]
    assert (await _call(tools["remote_add"], a=1, b=2)).content == "3"


async def test_an_unreachable_http_server_is_a_clear_error() -> None:
    declaration = McpServerDeclaration(
        name="nowhere", transport="streamable_http", url=f"http://127.0.0.1:{free_port()}/mcp", timeout_s=5
    )
    with pytest.raises(McpServerError, match="MCP server nowhere"):
        await discover_mcp_tools(McpConnection(declaration, environ={}))


async def test_per_call_sessions_start_a_fresh_server_each_time() -> None:
    tools = await _tools(_stdio(tools=["pid"]))
    first, second = (await _call(tools["helper_pid"])).content, (await _call(tools["helper_pid"])).content
    assert first != second


async def test_a_kept_session_is_reused_and_replaced_after_a_crash() -> None:
    connection = McpConnection(_stdio(tools=["pid", "crash"], session="kept", timeout_s=20), environ={})
    try:
        tools = {tool.spec.name: tool for tool in await discover_mcp_tools(connection)}
        first = (await _call(tools["helper_pid"])).content
        assert (await _call(tools["helper_pid"])).content == first  # the same server process
        crashed = await _call(tools["helper_crash"])
        assert crashed.is_error and crashed.content == "the helper service could not run crash"
        after = await _call(tools["helper_pid"])  # a fresh session, no manual restart
        assert not after.is_error and after.content != first
    finally:
        await connection.aclose()
