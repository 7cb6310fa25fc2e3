"""What a tool is: the one contract every tool (built-in, HTTP, MCP) is written against.

A tool is typed data (`ToolSpec`) plus one coroutine (`Tool.run`). The spec says everything the
turn loop and the permission check decide on (who may use it, whether it leaves the machine,
whether it changes anything, how long it may take); the loop, not the tool, validates arguments,
checks permissions, gates arguments and classifies results. A tool must never classify, audit or
log its own arguments or results: `assistant.tools` does that once for every tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from knowledge.access import Principal
from routing.tiers import Tier

# "local": the tool runs inside this process/machine (its arguments never leave);
# "external": an HTTP or MCP tool whose arguments reach another service, so they pass the gate
# first and a regulated argument is refused.
Destination = Literal["local", "external"]
ToolOutcome = Literal[
    "ok", "error", "timeout", "invalid_arguments", "refused_permission", "refused_privacy",
    "declined_by_user", "not_found",
]  # fmt: skip


class ToolSpec(BaseModel):
    """Everything decided about a tool before it runs."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str
    # Arguments are validated against this model before anything runs.
    arguments: type[BaseModel]
    destination: Destination = "local"
    side_effects: bool = False
    # Only idempotent tools are retried after a failure.
    idempotent: bool = True
    timeout_s: float = Field(default=10.0, gt=0)
    # Empty: every signed-in user may use it; otherwise the user needs one of these groups.
    groups: frozenset[str] = frozenset()
    # The most sensitive tier of turn this tool may be offered in / receive arguments from.
    max_argument_tier: Tier = Tier.INTERNAL
    # A fixed tier for every result (e.g. a finance API answers `regulated`); None: classify
    # each result with the gate.
    result_tier: Tier | None = None

    def json_schema(self) -> dict[str, Any]:
        return self.arguments.model_json_schema()


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Who is calling and from where; tools that read data apply `principal`'s ACL."""

    principal: Principal
    thread_id: str | None = None
    # Values a tool that is allowed to see real values may need (pseudonym -> original); empty
    # for external tools, which receive arguments exactly as the gate allowed them.
    restore: Mapping[str, str] = field(default_factory=dict)


class ToolResult(BaseModel):
    """What a tool answered: text for the model, optional structured data for the UI."""

    model_config = ConfigDict(frozen=True)

    content: str
    is_error: bool = False
    data: dict[str, Any] | None = None
    # The least sensitive tier this result may be treated as: a tool that returns stored data
    # (document passages) knows the tier it was stored with, which reading the text alone can miss.
    tier_floor: Tier | None = None


@runtime_checkable
class Tool(Protocol):
    """A tool: its spec and one coroutine. Raising means failure; the loop turns it into an
    error result the model sees, and records it."""

    @property
    def spec(self) -> ToolSpec: ...

    async def run(self, arguments: BaseModel, context: ToolContext) -> ToolResult: ...
