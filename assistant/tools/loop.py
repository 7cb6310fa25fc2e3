"""The tool loop of one chat turn: model → tool calls → results → model, bounded, tainting as it goes.

Each round asks the model through the caller's `ModelRound` (the routed path: `ModelSet.chain`
walked by `in_order`, pseudonymized where the route says so), with the tools this user may use at
the turn's *current* tier. A round's `ToolCallEvent`s and `StreamEnd` are kept here; every other
event (answer text, notices) passes through to the caller as it comes. Each call goes through
`ToolRunner` (permission, validation, gate, confirmation, timeout); its result's tier raises the
turn's decision with `routing.taint.combine`, so after a regulated result the next round's route
is local and no hosted model sees anything of it.

Bounds: at most `max_steps` tool rounds, a wall-time and a token budget per turn, one re-ask for
invalid arguments per tool, and a call identical to an earlier one (same tool, same canonical
arguments) stops the loop. Every ending has a typed `Termination`. This module must never lower a
turn's tier, and never start a round after a bound was reached.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from assistant.tools.base import Tool, ToolSpec
from assistant.tools.records import LoopReport, Termination, ToolCallRecord, canonical_arguments
from assistant.tools.runner import ToolCatalog, ToolRunner, ToolTurn
from knowledge.access import Principal
from models.base import ChatMessage, ModelError, StreamEnd, ToolCall, ToolCallEvent, ToolDefinition
from routing.decision import GateDecision
from routing.taint import TaintSource, combine
from routing.tiers import Route, Tier, highest

log = logging.getLogger(__name__)


ANSWER_NOW = "Answer my question now, using the tool results above. Do not call a tool."


@dataclass(frozen=True, slots=True)
class ToolLimits:
    """Per-turn bounds (from `ToolSettings`)."""

    max_steps: int = 5
    wall_time_s: float = 90.0
    token_budget: int = 12_000
    # Invalid arguments to one tool are sent back once with the error; the second time stops.
    invalid_retries: int = 1


@dataclass(frozen=True, slots=True)
class RoundRequest:
    """One model round: the tool exchange so far (to append after the user's message), the tools
    on offer, and the route and tier the turn has now."""

    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolDefinition, ...]
    route: Route
    tier: Tier


class ModelRound(Protocol):
    """Streams one model round; yields `ToolCallEvent`s and one `StreamEnd` among its events."""

    def __call__(self, request: RoundRequest) -> AsyncIterator[object]: ...


class ToolObserver(Protocol):
    """Audit trail and metrics; must not raise into the turn."""

    def on_tool_call(self, record: ToolCallRecord, *, principal: Principal, thread_id: str | None) -> None:
        """One finished (or refused) call."""

    def on_tool_loop(self, report: LoopReport, *, principal: Principal, thread_id: str | None) -> None:
        """The loop ended (every termination, also a cancelled turn)."""


@dataclass(frozen=True, slots=True)
class ToolStarted:
    call: ToolCall
    step: int


@dataclass(frozen=True, slots=True)
class ToolFinished:
    record: ToolCallRecord
    step: int


@dataclass(frozen=True, slots=True)
class LoopFinished:
    """The last event of a loop: how it ended, and the turn's decision after every result."""

    report: LoopReport
    decision: GateDecision
    messages: tuple[ChatMessage, ...]


@dataclass
class LoopTurn:
    """The turn the loop runs in; `decision` is raised in place as tool results taint it."""

    principal: Principal
    decision: GateDecision
    route_for: Callable[[Tier], Route]
    thread_id: str | None = None
    restore: Mapping[str, str] = field(default_factory=dict)


def definitions(tools: Sequence[Tool]) -> tuple[ToolDefinition, ...]:
    """Tools as the model sees them."""
    return tuple(_definition(t.spec) for t in tools)


@functools.lru_cache(maxsize=512)
def _definition(spec: ToolSpec) -> ToolDefinition:
    """A spec's definition, built once: pydantic builds a JSON schema anew on every call, and this
    ran for every tool before every turn's first byte (profiled on the API, issue 15). A spec is
    frozen, so equal specs have equal definitions."""
    return ToolDefinition(name=spec.name, description=spec.description, parameters=spec.json_schema())


@dataclass(frozen=True, slots=True)
class _Stop:
    termination: Termination


@dataclass
class _Progress:
    started: float
    decision: GateDecision
    messages: list[ChatMessage] = field(default_factory=list)
    records: list[ToolCallRecord] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    invalid: Counter[str] = field(default_factory=Counter)
    tokens: int = 0
    steps: int = 0
    result_tier: Tier | None = None
    answered_after_stop: bool = False


class ToolLoop:
    def __init__(
        self,
        catalog: ToolCatalog,
        runner: ToolRunner,
        limits: ToolLimits | None = None,
        observers: Sequence[ToolObserver] = (),
    ) -> None:
        self._catalog = catalog
        self._runner = runner
        self.limits = limits or ToolLimits()
        self._observers = list(observers)

    async def run(self, turn: LoopTurn, round_: ModelRound) -> AsyncIterator[object]:
        """Rounds until the model answers without a tool call or a bound stops it; ends with
        `LoopFinished`. A model failure is reported (`model_error`) and raised to the caller."""
        progress = _Progress(started=time.monotonic(), decision=turn.decision)
        termination: Termination = "cancelled"
        try:
            while True:
                bound = self._bound(progress)
                if bound is not None:
                    termination = bound
                    break
                calls: list[ToolCall] = []
                try:
                    async for event in self._round(round_, turn, progress, calls):
                        yield event
                except ModelError:
                    termination = "model_error"
                    raise
                if not calls:
                    termination = "answered"
                    break
                progress.steps += 1
                stop: Termination | None = None
                async for event in self._calls(calls, turn, progress):
                    if isinstance(event, _Stop):
                        stop = event.termination
                    else:
                        yield event
                if stop is not None:
                    termination = stop
                    if stop == "repeated_call":
                        async for event in self._answer_without_tools(round_, progress):
                            yield event
                    break
        finally:
            report = self._report(progress, termination)
            self._notify_loop(report, turn)
        yield LoopFinished(report, progress.decision, tuple(progress.messages))

    @property
    def runner(self) -> ToolRunner:
        return self._runner

    def _bound(self, progress: _Progress) -> Termination | None:
        if progress.steps >= self.limits.max_steps:
            return "max_steps"
        if time.monotonic() - progress.started >= self.limits.wall_time_s:
            return "wall_time"
        if progress.tokens >= self.limits.token_budget:
            return "token_budget"
        return None

    async def _round(
        self, round_: ModelRound, turn: LoopTurn, progress: _Progress, calls: list[ToolCall]
    ) -> AsyncIterator[object]:
        decision = progress.decision
        offered = definitions(self._catalog.offered_to(turn.principal, decision.tier))
        request = RoundRequest(tuple(progress.messages), offered, decision.route, decision.tier)
        text = ""
        async for event in round_(request):
            if isinstance(event, ToolCallEvent):
                calls.append(event.call)
            elif isinstance(event, StreamEnd):
                progress.tokens += event.usage.total_tokens
                text = event.text
            else:
                yield event
        if calls:
            progress.messages.append(ChatMessage(role="assistant", content=text, tool_calls=tuple(calls)))

    async def _answer_without_tools(self, round_: ModelRound, progress: _Progress) -> AsyncIterator[object]:
        """After a repeated call, one last round with no tools on offer, so the model answers from
        the results it already has (small local models tend to ask again instead). The round that
        repeated itself is dropped: its calls have no results, which the OpenAI API refuses."""
        last = max(i for i, message in enumerate(progress.messages) if message.tool_calls)
        del progress.messages[last:]
        decision = progress.decision
        # Small local models read a tool result as the user's words ("Thank you for providing the
        # answer."): say plainly what is wanted now.
        nudge = ChatMessage(role="user", content=ANSWER_NOW)
        request = RoundRequest((*progress.messages, nudge), (), decision.route, decision.tier)
        async for event in round_(request):
            if isinstance(event, StreamEnd):
                progress.tokens += event.usage.total_tokens
                progress.answered_after_stop = bool(event.text.strip())
            elif not isinstance(event, ToolCallEvent):  # none were offered: a call now is ignored
                yield event

    async def _calls(
        self, calls: list[ToolCall], turn: LoopTurn, progress: _Progress
    ) -> AsyncIterator[object]:
        """Runs the round's calls in order; yields UI events, and a `_Stop` to end the loop."""
        for call in calls:
            key = (call.name, canonical_arguments(call.arguments))
            if key in progress.seen:
                yield _Stop("repeated_call")
                return
            progress.seen.add(key)
            yield ToolStarted(call, progress.steps)
            tool_turn = ToolTurn(turn.principal, progress.decision.tier, turn.thread_id, turn.restore)
            executed = await self._runner.execute(call, tool_turn)
            progress.records.append(executed.record)
            progress.messages.append(executed.message)
            self._notify_call(executed.record, turn)
            if executed.result_tier is not None:
                self._taint(progress, executed.result_tier, call.name, turn)
            yield ToolFinished(executed.record, progress.steps)
            if executed.record.outcome == "invalid_arguments":
                progress.invalid[call.name] += 1
                if progress.invalid[call.name] > self.limits.invalid_retries:
                    yield _Stop("invalid_arguments")
                    return

    @staticmethod
    def _taint(progress: _Progress, tier: Tier, name: str, turn: LoopTurn) -> None:
        progress.result_tier = highest(progress.result_tier or Tier.PUBLIC, tier)
        source = TaintSource("tool", tier, (f"tool “{name}”",))
        progress.decision = combine(progress.decision, source, route_for=turn.route_for)
        turn.decision = progress.decision  # the caller sees the raised decision even if cancelled

    @staticmethod
    def _report(progress: _Progress, termination: Termination) -> LoopReport:
        return LoopReport(
            termination=termination,
            steps=progress.steps,
            records=tuple(progress.records),
            tokens=progress.tokens,
            result_tier=progress.result_tier,
            answered_after_stop=progress.answered_after_stop,
        )

    def _notify_call(self, record: ToolCallRecord, turn: LoopTurn) -> None:
        for observer in self._observers:
            try:
                observer.on_tool_call(record, principal=turn.principal, thread_id=turn.thread_id)
            except Exception:  # an observer must never break the user's turn
                log.exception("tool observer %r failed", observer)

    def _notify_loop(self, report: LoopReport, turn: LoopTurn) -> None:
        for observer in self._observers:
            try:
                observer.on_tool_loop(report, principal=turn.principal, thread_id=turn.thread_id)
            except Exception:
                log.exception("tool observer %r failed", observer)
