"""The whole tool registry of a deployment: built-ins plus the admin's catalog, built at start-up.

HTTP tools are built from their declarations; each MCP server is asked for its tools once. A
catalog error stops start-up with its one-line message; an MCP server that cannot be listed is
left out with a warning (or stops start-up, if the admin said so): its tools are then simply
never offered. Nothing here runs a tool or decides who may use one (that is `registry`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from assistant.tools.base import Tool
from assistant.tools.catalog import CatalogError, CatalogFile, load_catalog, resolve_headers
from assistant.tools.catalog_settings import ToolCatalogSettings
from assistant.tools.http_tool import HttpTool
from assistant.tools.mcp_tool import McpConnection, McpServerError, discover_mcp_tools
from assistant.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


@dataclass
class CatalogTools:
    tools: list[Tool] = field(default_factory=list)
    # One line per MCP server left out, for `confidante check` and the start-up log.
    problems: list[str] = field(default_factory=list)


async def catalog_tools(
    catalog: CatalogFile, *, environ: Mapping[str, str] | None = None, skip_unreachable: bool = True
) -> CatalogTools:
    env = dict(os.environ if environ is None else environ)
    built = CatalogTools()
    for declaration in catalog.http_tool:
        built.tools.append(HttpTool(declaration, headers=resolve_headers(declaration, env)))
    for server in catalog.mcp_server:
        connection = McpConnection(server, headers=resolve_headers(server, env), environ=env)
        try:
            built.tools += await discover_mcp_tools(connection)
        except McpServerError as exc:
            if not skip_unreachable:
                raise CatalogError(str(exc)) from None
            log.warning("%s; its tools are not offered", exc)
            built.problems.append(str(exc))
    return built


async def build_tool_registry(
    settings: ToolCatalogSettings, builtins: Sequence[Tool], *, environ: Mapping[str, str] | None = None
) -> tuple[ToolRegistry, list[str]]:
    """The built-ins, then the catalog's tools (a name used twice is a `ToolRegistryError`)."""
    registry = ToolRegistry(builtins)
    if settings.path is None:
        return registry, []
    catalog = load_catalog(settings.path)
    built = await catalog_tools(
        catalog, environ=environ, skip_unreachable=settings.skip_unreachable_mcp_servers
    )
    registry.extend(built.tools)
    return registry, built.problems
