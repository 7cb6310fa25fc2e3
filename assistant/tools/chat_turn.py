"""The tool loop as a chat turn uses it: built once per app, run inside the pipeline's turn.

`ChatTools` holds the catalog, the runner and the loop, and says which models may be offered
tools (hosted models; the local one only when its settings say `supports_tools`). `run` drives
the loop with the pipeline's own model round (so every round goes through the routed chain,
pseudonymization and the answer filter), sends each finished call to the UI's `StepSink`, and
returns what the turn needs afterwards in a `ToolOutcome` (the tainted decision, the report,
the summed usage). It must never offer a tool to a model that cannot call tools, and never
lower the turn's decision.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from assistant.tools.budget import fit_tool_round
from assistant.tools.loop import (
    LoopFinished,
    LoopTurn,
    ModelRound,
    RoundRequest,
    ToolFinished,
    ToolLimits,
    ToolLoop,
    ToolObserver,
    ToolStarted,
)
from assistant.tools.records import LoopReport, ToolCallRecord
from assistant.tools.runner import Classifier, Confirm, ToolCatalog, ToolRunner
from assistant.tools.settings import ToolSettings
from knowledge.access import Principal
from knowledge.grounding import GROUNDING_INSTRUCTION
from models.base import ChatModel, ChatRequest
from routing.decision import GateDecision
from routing.routed import Candidate
from routing.tiers import Route, Tier

log = logging.getLogger(__name__)


class StepSink(Protocol):
    """Where the UI shows a finished tool call (a collapsed Chainlit step)."""

    async def tool_finished(self, record: ToolCallRecord) -> None: ...


# Between the text of two rounds (the model wrote something, called a tool, then went on).
ROUND_BREAK = "\n\n"


def joined_answer(earlier: str | None, this_round: str | None) -> str | None:
    """The turn's answer after a round: what the model wrote in earlier rounds (before it called
    a tool) stays in the answer the chat stores, as the user saw it stream. A round that failed
    (None: its error message is the answer) stands alone."""
    before, now = (earlier or "").strip(), (this_round or "").strip()
    if this_round is None or not before:
        return this_round
    return f"{before}{ROUND_BREAK}{now}" if now else before


async def after_earlier_text(
    events: AsyncIterator[object], earlier: str | None, separator: object
) -> AsyncIterator[object]:
    """A round's events, with `separator` before its first answer text when an earlier round
    already wrote some (so the streamed text reads like the stored one)."""
    pending = bool((earlier or "").strip())
    async for event in events:
        if pending and type(event) is type(separator):
            pending = False
            yield separator
        yield event


@dataclass
class ToolTurnResult:
    """What the turn keeps after the loop: the decision raised by tool results, and the report."""

    decision: GateDecision
    report: LoopReport | None = None


@dataclass
class ChatTools:
    catalog: ToolCatalog
    loop: ToolLoop
    local_supports_tools: bool
    steps: StepSink | None = None
    observers: list[ToolObserver] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        catalog: ToolCatalog,
        classifier: Classifier,
        settings: ToolSettings,
        *,
        local_supports_tools: bool,
        confirm: Confirm | None = None,
        observers: Sequence[ToolObserver] = (),
        steps: StepSink | None = None,
    ) -> ChatTools:
        runner = ToolRunner(catalog, classifier, confirm=confirm, retries=settings.retries)
        limits = ToolLimits(
            max_steps=settings.max_steps, wall_time_s=settings.wall_time_s, token_budget=settings.token_budget
        )
        loop = ToolLoop(catalog, runner, limits, observers=observers)
        return cls(catalog, loop, local_supports_tools, steps, list(observers))

    def show_with(self, steps: StepSink | None, confirm: Confirm | None) -> None:
        """Where finished calls are shown and side effects confirmed: the UI's steps and buttons
        (built so), or the terminal's (`assistant.tools.terminal`)."""
        self.steps = steps
        self.loop.runner.confirm = confirm

    async def aclose(self) -> None:
        """Closes what tools keep open (kept MCP sessions: their server processes exit); called at
        app shutdown and when the CLI exits. Never raises: shutting down goes on."""
        tools = list(self.catalog) if isinstance(self.catalog, Iterable) else []
        for tool in tools:
            closer = getattr(tool, "aclose", None)
            if closer is None:
                continue
            try:
                await closer()
            except Exception:
                log.warning("could not close tool %s", tool.spec.name, exc_info=True)

    def supports(self, model: ChatModel) -> bool:
        return model.kind == "hosted" or self.local_supports_tools

    def available(self, chain: Sequence[Candidate], principal: Principal, tier: Tier) -> bool:
        """Worth a loop: some model of the chain can call tools, and this user has tools to call."""
        return any(self.supports(c.model) for c in chain) and bool(self.catalog.offered_to(principal, tier))

    async def run(
        self,
        round_: ModelRound,
        *,
        principal: Principal,
        decision: GateDecision,
        route_for: Callable[[Tier], Route],
        result: ToolTurnResult,
        thread_id: str | None = None,
        restore: Mapping[str, str] | None = None,
    ) -> AsyncIterator[object]:
        """The round's events (answer text, notices) as they come; fills `result` at the end."""
        turn = LoopTurn(principal, decision, route_for, thread_id, restore or {})
        try:
            async for event in self.loop.run(turn, round_):
                if isinstance(event, LoopFinished):
                    result.report = event.report
                elif isinstance(event, ToolFinished):
                    await self._show(event.record)
                elif not isinstance(event, ToolStarted):
                    yield event
        finally:
            # Also when the turn is stopped mid-loop: a result that tainted it keeps it tainted.
            result.decision = turn.decision

    async def _show(self, record: ToolCallRecord) -> None:
        if self.steps is None:
            return
        try:
            await self.steps.tool_finished(record)
        except Exception:  # showing a step must never break the answer (no UI, a closed tab)
            log.warning("could not show the tool step for %s", record.name, exc_info=True)

    def request_for(self, request: ChatRequest, model: ChatModel, round_: RoundRequest) -> ChatRequest:
        """The turn's request for `model` in a tool round: the tool exchange so far after the
        user's message, and the tools on offer if this model can call them, all of it counted
        and fitted into the model's context window (`assistant.tools.budget`)."""
        return request_in_window(request, model, round_, supports=self.supports(model))


def grounded(request: ChatRequest) -> bool:
    """The request carries retrieved passages (`knowledge.grounding` ends its system message with
    `GROUNDING_INSTRUCTION`; the user's text never reaches the system message)."""
    first = request.messages[0] if request.messages else None
    return first is not None and first.role == "system" and GROUNDING_INSTRUCTION in first.content


def request_in_window(
    request: ChatRequest, model: ChatModel, round_: RoundRequest, *, supports: bool
) -> ChatRequest:
    """`request` with the round's exchange and tools, fitted into `model`'s window.

    A grounded request to the local model gets no tools: with tool definitions beside the
    passages, Qwen 1.5B answered "I couldn't find this" to 4 of 5 questions its passages answer
    (4 of 5 answered without tools) or called a tool instead (bench/bench_tool_choice.py)."""
    offered = round_.tools if supports and not (model.kind == "local" and grounded(request)) else ()
    fitted = fit_tool_round(
        request.messages,
        round_.messages,
        offered,
        context_window=model.context_window,
        answer_reserve=request.max_tokens,
        count=model.count_tokens,
    )
    if fitted.dropped_messages or fitted.results_cut or fitted.results_left_out:
        log.info(
            "tool round fitted to %s's window: %d history messages dropped, %d results cut, %d left out",
            model.name, fitted.dropped_messages, fitted.results_cut, fitted.results_left_out,
        )  # fmt: skip
    return request.model_copy(update={"messages": fitted.messages, "tools": fitted.tools})
