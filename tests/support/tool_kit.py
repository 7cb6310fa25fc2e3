"""Small tools, a catalog and a scripted classifier for the tool-loop tests (scripted, no model)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from pydantic import BaseModel, Field

from assistant.tools.base import Tool, ToolContext, ToolResult, ToolSpec
from knowledge.access import Principal
from models.base import ChatRequest, ModelKind
from models.fakes import FunctionModel, call
from routing.decision import GateDecision
from routing.tiers import Route, Tier

SSN_CANARY = "078-05-1120"
ALICE = Principal(user_id="alice", groups=frozenset({"staff"}))
FINANCE_USER = Principal(user_id="fin", groups=frozenset({"finance"}))


def decision(tier: Tier = Tier.PUBLIC, route: Route | None = None) -> GateDecision:
    route = route or (Route.LOCAL if tier is Tier.REGULATED else Route.HOSTED)
    return GateDecision(tier=tier, route=route, rule="test", reasons=(), policy_version="test")


def route_for(tier: Tier) -> Route:
    return {Tier.PUBLIC: Route.HOSTED, Tier.INTERNAL: Route.HOSTED_PSEUDONYMIZED}.get(tier, Route.LOCAL)


class ScriptedClassifier:
    """Regulated when the SSN canary is in the text, else public; records what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def assess(self, text: str, *, source: str) -> GateDecision:
        self.seen.append((source, text))
        return decision(Tier.REGULATED if SSN_CANARY in text else Tier.PUBLIC)


class Percent(BaseModel):
    percent: float
    of: float


class Expression(BaseModel):
    expression: str = Field(min_length=1)


@dataclass
class ScriptedTool:
    """A tool that answers `answer(arguments)` and records every run."""

    spec: ToolSpec
    answer: object = "ok"
    runs: list[BaseModel] = field(default_factory=list)
    contexts: list[ToolContext] = field(default_factory=list)

    async def run(self, arguments: BaseModel, context: ToolContext) -> ToolResult:
        self.runs.append(arguments)
        self.contexts.append(context)
        value = self.answer(arguments) if callable(self.answer) else self.answer
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, BaseException):
            raise value
        return value if isinstance(value, ToolResult) else ToolResult(content=str(value))


def percent_tool() -> ScriptedTool:
    def compute(arguments: BaseModel) -> str:
        assert isinstance(arguments, Percent)
        value = Fraction(str(arguments.percent)) * Fraction(str(arguments.of)) / 100
        return format(float(value), "g")

    spec = ToolSpec(name="calculator", description="Percent of a number.", arguments=Percent)
    return ScriptedTool(spec, compute)


def percent_model(name: str, kind: ModelKind) -> FunctionModel:
    """A model that calls `percent_tool`'s calculator first, then answers from its result (two rounds)."""

    def reply(request: ChatRequest) -> object:
        last = request.messages[-1]
        if last.role == "tool":
            return f"17.5 % of 2,380 is {last.content}."
        return call("calculator", percent=17.5, of=2380)

    return FunctionModel(reply, name=name, kind=kind)


def tool(name: str, answer: object = "ok", **spec: object) -> ScriptedTool:
    return ScriptedTool(
        ToolSpec(name=name, description=f"The {name} tool.", arguments=Expression, **spec), answer
    )  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Permission:
    allowed: bool
    reason: str = "allowed"


class Catalog:
    """The registry's contract (`offered_to`, `permits`, `get`) in a few lines."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self.tools = {t.spec.name: t for t in tools}

    def get(self, name: str) -> Tool:
        return self.tools[name]

    def permits(self, name: str, principal: Principal, tier: Tier | str) -> _Permission:
        found = self.tools.get(name)
        if found is None:
            return _Permission(False, "no such tool")
        if found.spec.groups and not found.spec.groups & principal.groups:
            return _Permission(False, "the user's groups may not use this tool")
        if Tier(tier).rank > found.spec.max_argument_tier.rank:
            return _Permission(False, "this tool may not receive data of the turn's sensitivity")
        return _Permission(True)

    def offered_to(self, principal: Principal, tier: Tier | str) -> list[Tool]:
        return [t for t in self.tools.values() if self.permits(t.spec.name, principal, tier).allowed]


def arguments_of(text: str) -> dict[str, object]:
    parsed = json.loads(text)
    assert isinstance(parsed, dict)
    return parsed
