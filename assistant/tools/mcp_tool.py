"""Tools from an admin-declared MCP server (stdio or streamable HTTP), one `Tool` per server tool.

At start-up `discover_mcp_tools` lists the server's tools; each becomes an `McpTool` with
destination "external" and the server's groups and tiers (the server is another program: the
loop gates arguments before it sees them, and classifies what it answers). Every call opens its
own session and closes it afterwards (`session = "per_call"`, the default): no state is shared
between users' calls, and a crashed server costs one call, not the app; but a stdio server is
started for every call (measured ~1-1.7 s for a Python server on a busy 2-core machine). With
`session = "kept"` one session per server stays open, owned by a task in the event loop that
first needed it, shared by all calls, replaced after any failed call, and closed (the server
process exits) by `aclose` at app shutdown and CLI exit (`Services.aclose`).
Side effects: MCP tool annotations are only hints from the server, so a tool counts as
side-effecting (the user confirms) unless the admin declares the server `side_effects = false`.
Answers are capped in size; failures are `ToolResult(is_error=True)` with a short message,
never a traceback or a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from typing import IO, Any

import httpx
from mcp import ClientSession, StdioServerParameters
from mcp import types as mcp_types
from mcp.client.stdio import get_default_environment, stdio_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel, SecretStr

from assistant.tools.base import ToolContext, ToolResult, ToolSpec
from assistant.tools.catalog import CatalogError, McpServerDeclaration
from assistant.tools.catalog_schema import SchemaError, model_from_schema

log = logging.getLogger(__name__)
STDERR_TAIL_BYTES = 800


class McpServerError(RuntimeError):
    """The server could not be started, reached or listed; the message is safe to show an admin."""


class McpConnection:
    """How to open a session with one declared server (resolved secrets and environment)."""

    def __init__(
        self,
        declaration: McpServerDeclaration,
        *,
        headers: Mapping[str, SecretStr] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.declaration = declaration
        self._headers = dict(headers or {})
        self._env = _server_environment(declaration, os.environ if environ is None else environ)
        self._kept = _KeptSession(self.session)

    async def call(self, tool: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """One `tools/call` on this server, in a session of its own or the kept one."""
        if self.declaration.session == "per_call":
            async with self.session() as session:
                return await session.call_tool(tool, arguments)
        session = await self._kept.get()
        try:
            return await session.call_tool(tool, arguments)
        except BaseException:
            # A failed call may mean a dead server: the next call starts a fresh session.
            self._kept.discard()
            raise

    async def aclose(self) -> None:
        """Close the kept session, if any (a stdio server also exits when this process does)."""
        await self._kept.aclose()

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[ClientSession]:
        timeout = timedelta(seconds=self.declaration.timeout_s)
        async with (
            self._streams() as (read, write),
            ClientSession(read, write, read_timeout_seconds=timeout) as session,
        ):
            await session.initialize()
            yield session

    @contextlib.asynccontextmanager
    async def _streams(self) -> AsyncIterator[tuple[Any, Any]]:
        if self.declaration.transport == "stdio":
            async with self._stdio() as streams:
                yield streams
            return
        headers = {name: value.get_secret_value() for name, value in self._headers.items()}
        seconds = self.declaration.timeout_s
        client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(seconds), trust_env=False)
        async with client, streamable_http_client(str(self.declaration.url), http_client=client) as streams:
            yield streams[0], streams[1]

    @contextlib.asynccontextmanager
    async def _stdio(self) -> AsyncIterator[tuple[Any, Any]]:
        declaration = self.declaration
        parameters = StdioServerParameters(
            command=str(declaration.command),
            args=list(declaration.args),
            env=self._env,
            cwd=declaration.cwd,
        )
        # The server's stderr goes to a temporary file, so a failure can be logged with its cause.
        with tempfile.TemporaryFile() as errlog:
            try:
                async with stdio_client(parameters, errlog=errlog) as streams:  # type: ignore[arg-type]
                    yield streams
            except BaseException:
                _log_stderr_tail(declaration.name, errlog)
                raise


class _KeptSession:
    """One long-lived session, held open by a task in the loop that first asked for it."""

    def __init__(
        self, open_session: Callable[[], contextlib.AbstractAsyncContextManager[ClientSession]]
    ) -> None:
        self._open = open_session
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[ClientSession] | None = None
        self._stop: asyncio.Event | None = None

    async def get(self) -> ClientSession:
        loop = asyncio.get_running_loop()
        # No await between the check and the assignment: concurrent callers share one start.
        if self._task is None or self._task.done() or self._loop is not loop or self._ready is None:
            self.discard()
            self._loop, self._ready, self._stop = loop, loop.create_future(), asyncio.Event()
            self._task = loop.create_task(self._hold(self._ready, self._stop))
        return await asyncio.shield(self._ready)

    async def _hold(self, ready: asyncio.Future[ClientSession], stop: asyncio.Event) -> None:
        try:
            async with self._open() as session:
                ready.set_result(session)
                await stop.wait()
        except Exception as exc:
            if not ready.done():
                ready.set_exception(exc)

    def discard(self) -> None:
        """Forget the session; its task closes it (unless its loop is gone, taking it along)."""
        if self._stop is not None and self._loop is not None and not self._loop.is_closed():
            self._stop.set()
        self._loop = self._task = self._ready = self._stop = None

    async def aclose(self) -> None:
        task, loop = self._task, self._loop
        self.discard()
        if task is not None and loop is asyncio.get_running_loop():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)


def _server_environment(declaration: McpServerDeclaration, environ: Mapping[str, str]) -> dict[str, str]:
    """The SDK's safe default environment plus only the variables the admin named."""
    env = get_default_environment()
    for name in declaration.env_from:
        if name not in environ:
            raise CatalogError(f"{declaration.name}: env_from needs the environment variable {name}")
        env[name] = environ[name]
    return env


def _log_stderr_tail(server: str, errlog: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        errlog.seek(0, os.SEEK_END)
        errlog.seek(max(0, errlog.tell() - STDERR_TAIL_BYTES))
        tail = errlog.read().decode("utf-8", errors="replace").strip()
        if tail:
            log.warning("MCP server %s wrote to stderr: %s", server, tail)


def tool_name(server: str, tool: str) -> str:
    """`<server>_<tool>`, in the characters and length tool names allow everywhere."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", f"{server}_{tool}")[:64]


class McpTool:
    def __init__(self, connection: McpConnection, listed: mcp_types.Tool) -> None:
        declaration = connection.declaration
        self._connection = connection
        self._remote_name = listed.name
        side_effects = True if declaration.side_effects is None else declaration.side_effects
        name = tool_name(declaration.name, listed.name)
        self._spec = ToolSpec(
            name=name,
            description=f"{listed.description or listed.name} (from the {declaration.name} service)"[:1024],
            arguments=model_from_schema(name, listed.inputSchema),
            destination="external",
            side_effects=side_effects,
            idempotent=not side_effects,
            timeout_s=declaration.timeout_s,
            groups=declaration.groups,
            max_argument_tier=declaration.max_argument_tier,
            result_tier=declaration.result_tier,
        )

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    async def aclose(self) -> None:
        """Closes the server's kept session (shared by its tools; closing twice is harmless)."""
        await self._connection.aclose()

    async def run(self, arguments: BaseModel, context: ToolContext) -> ToolResult:
        server = self._connection.declaration.name
        try:
            result = await self._connection.call(self._remote_name, arguments.model_dump(exclude_none=True))
        except Exception as exc:  # includes ExceptionGroup from the SDK's task groups
            log.warning("MCP tool %s on %s failed: %s", self._remote_name, server, type(exc).__name__)
            return ToolResult(
                content=f"the {server} service could not run {self._remote_name}", is_error=True
            )
        return call_result(result, self._connection.declaration.max_response_bytes)


def call_result(result: mcp_types.CallToolResult, cap: int) -> ToolResult:
    """The server's answer as text for the model, cut at `cap` bytes."""
    parts = [
        block.text if isinstance(block, mcp_types.TextContent) else f"[{block.type} content omitted]"
        for block in result.content
    ]
    text = "\n".join(parts)
    encoded = text.encode("utf-8")
    truncated = len(encoded) > cap
    if truncated:
        text = encoded[:cap].decode("utf-8", errors="ignore") + f"\n[… answer cut at {cap} bytes]"
    data: dict[str, Any] = {"truncated": truncated}
    if result.structuredContent is not None and not truncated:
        data["structured"] = result.structuredContent
    return ToolResult(content=text, is_error=result.isError, data=data)


async def discover_mcp_tools(connection: McpConnection) -> list[McpTool]:
    """The server's tools as `Tool`s (only those the admin listed, when they did)."""
    declaration = connection.declaration
    try:
        async with connection.session() as session:
            listed = await _list_all(session)
    except Exception as exc:
        raise McpServerError(
            f"MCP server {declaration.name}: could not list its tools ({type(exc).__name__})"
        ) from None
    wanted = None if declaration.tools is None else set(declaration.tools)
    tools = []
    for item in listed:
        if wanted is not None and item.name not in wanted:
            continue
        try:
            tools.append(McpTool(connection, item))
        except (SchemaError, ValueError) as exc:
            # One tool with an unusual schema must not take the server's other tools down.
            log.warning("MCP server %s: tool %s skipped: %s", declaration.name, item.name, exc)
    return tools


async def _list_all(session: ClientSession) -> list[mcp_types.Tool]:
    listed: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(100):  # a server that pages forever is cut off
        page = await session.list_tools(params=mcp_types.PaginatedRequestParams(cursor=cursor))
        listed += page.tools
        cursor = page.nextCursor
        if not cursor:
            break
    return listed
