"""Building the chat turn's tools from the settings, once, at start-up (called by `services`).

The built-in tools (calculator, current date, and with a knowledge base / governance database the
document tools and `ask_a_person`) go into a `ToolRegistry`; the loop records every call in the
audit trail and the metrics, shows it as a Chainlit step and asks the user before a side-effecting
tool runs. The admin's catalog (HTTP and MCP tools) is added by `extend_with_catalog`, which is
async because MCP servers are asked for their tools. Nothing here runs a tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.tools.builtin import builtin_tools
from assistant.tools.catalog import load_catalog
from assistant.tools.catalog_tools import catalog_tools
from assistant.tools.chat_turn import ChatTools
from assistant.tools.observe import ToolRecorder
from assistant.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from assistant.experiments.store import ExperimentStore
    from assistant.governance.component import Governance
    from assistant.privacy import Privacy
    from assistant.settings import Settings
    from knowledge.knowledge_base import KnowledgeBase


def build_chat_tools(
    settings: Settings,
    *,
    privacy: Privacy,
    knowledge: KnowledgeBase | None,
    governance: Governance | None,
    experiments: ExperimentStore | None = None,
) -> ChatTools | None:
    """The tools of every chat turn, or None when tools are switched off. `experiments`: the
    turn's own experiment store, so one query answers a turn's variant and its tools variant."""
    if not settings.tools.enabled:
        return None
    from assistant.ui.tool_steps import ChainlitToolSteps, confirm_in_chat

    registry = ToolRegistry(
        builtin_tools(
            knowledge=knowledge,
            escalations=governance.escalations if governance is not None else None,
            classifier=privacy,
            timezone=settings.tool_catalog.timezone,
        )
    )
    # Issue 18: a running tools experiment may switch tools off or lower the step limit per user,
    # and the audit records of a loop name its variant (assistant/experiments/tools_variant.py).
    from assistant.experiments.tools_variant import ExperimentTools, VariantAudit

    recorder = ToolRecorder(
        VariantAudit(governance.audit) if governance is not None else None,
        governance.telemetry.registry if governance is not None else None,
    )
    tools = ChatTools.build(
        registry,
        privacy,
        settings.tools,
        local_supports_tools=settings.models.local.supports_tools,
        confirm=confirm_in_chat,
        observers=[recorder],
        steps=ChainlitToolSteps(),
    )
    if governance is None:
        return tools
    from assistant.experiments.store import ExperimentStore

    return ExperimentTools.wrap(tools, experiments or ExperimentStore(governance.engine))


async def extend_with_catalog(
    tools: ChatTools, settings: Settings, environ: dict[str, Any] | None = None
) -> list[str]:
    """Adds the admin's HTTP and MCP tools; returns one line per MCP server left out."""
    if settings.tool_catalog.path is None or not isinstance(tools.catalog, ToolRegistry):
        return []
    built = await catalog_tools(
        load_catalog(settings.tool_catalog.path),
        environ=environ,
        skip_unreachable=settings.tool_catalog.skip_unreachable_mcp_servers,
    )
    tools.catalog.extend(built.tools)
    return built.problems
