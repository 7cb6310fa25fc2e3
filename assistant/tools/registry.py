"""The tool registry: which tools exist, and which of them one user may be offered in one turn.

A tool the principal's groups do not allow is never offered (the model never learns it exists),
and neither is a tool whose `max_argument_tier` is below the turn's tier. The loop asks
`permits` again at call time, because a model may name a tool it was never offered. This module
decides only who may use a tool; it never runs, validates or audits one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from assistant.tools.base import Tool, ToolSpec
from knowledge.access import Principal
from routing.tiers import Tier, highest

Refusal = Literal["not_found", "group", "tier"]


class ToolRegistryError(ValueError):
    """A tool could not be registered (a duplicate name, or not a `Tool`)."""


class UnknownToolError(KeyError):
    """No tool of that name is registered."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no tool named {self.name!r}"


@dataclass(frozen=True, slots=True)
class Permission:
    """Whether one principal may call one tool in a turn of one tier, and if not, why."""

    allowed: bool
    refusal: Refusal | None = None

    @property
    def reason(self) -> str:
        return {
            None: "allowed",
            "not_found": "no such tool",
            "group": "the user's groups may not use this tool",
            "tier": "this tool may not receive data of the turn's sensitivity",
        }[self.refusal]


ALLOWED = Permission(True)


def group_allows(spec: ToolSpec, principal: Principal) -> bool:
    """Empty `groups` means every signed-in user; otherwise the user needs one of them.

    Admins get no bypass: a finance tool stays a finance tool.
    """
    return not spec.groups or bool(spec.groups & principal.groups)


def tier_allows(spec: ToolSpec, tier: Tier | str) -> bool:
    # `highest` maps an unknown tier string to regulated: fail closed.
    return highest(tier).rank <= spec.max_argument_tier.rank


class ToolRegistry:
    """Tools by name, in registration order (the order they are offered in)."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if not isinstance(tool, Tool) or not isinstance(getattr(tool, "spec", None), ToolSpec):
            raise ToolRegistryError(f"{tool!r} is not a Tool (a `spec: ToolSpec` and `async run`)")
        name = tool.spec.name
        if name in self._tools:
            raise ToolRegistryError(f"a tool named {name!r} is already registered")
        self._tools[name] = tool

    def extend(self, tools: Iterable[Tool]) -> None:
        for tool in tools:
            self.add(tool)

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownToolError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def permits(self, name: str, principal: Principal, tier: Tier | str) -> Permission:
        """The call-time check: the same rule as `offered_to`, with the reason for a refusal."""
        tool = self._tools.get(name)
        if tool is None:
            return Permission(False, "not_found")
        if not group_allows(tool.spec, principal):
            return Permission(False, "group")
        if not tier_allows(tool.spec, tier):
            return Permission(False, "tier")
        return ALLOWED

    def offered_to(self, principal: Principal, tier: Tier | str) -> list[Tool]:
        """The tools to describe to the model for this principal's turn of this tier."""
        return [
            tool for tool in self._tools.values() if self.permits(tool.spec.name, principal, tier).allowed
        ]
