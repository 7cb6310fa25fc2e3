"""Running one tool call a model asked for, with every check in the order that keeps data safe.

1. the tool must exist, and the user may use it *now* (asked again at call time: a model may
   name a tool it was never offered); a refusal is recorded like any other outcome;
2. arguments are parsed and validated against the tool's pydantic model (a failure goes back to
   the model as the validation error, so it can correct itself once);
3. an external tool's arguments pass the gate first: a regulated (or unclassifiable) argument is
   refused; pseudonymized values are restored only for local tools, which may see them;
4. a side-effecting tool runs only after the user confirms (no confirmation hook: nothing runs);
5. it runs under its timeout, retried only when it is idempotent;
6. its result is classified (or takes the spec's fixed `result_tier`); failure to classify
   counts as regulated.

This module must never send an argument of an external tool that the gate has not seen, never
run a side-effecting tool without a "yes", and never put argument or result text in a record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from assistant.executors import run_interactive
from assistant.tools.base import Tool, ToolContext, ToolOutcome, ToolResult, ToolSpec
from assistant.tools.records import ToolCallRecord, canonical_arguments, sha256_text
from knowledge.access import Principal
from models.base import ChatMessage, ToolCall
from routing.tiers import Tier, highest

log = logging.getLogger(__name__)

Confirm = Callable[[ToolSpec, BaseModel], Awaitable[bool]]
SUMMARY_CHARS = 200
# What the model reads of one result: a whole document would not fit a local model's context
# (4,096 tokens for the standard profile). The record hashes the full result.
MAX_RESULT_CHARS = 6000


class Permission(Protocol):
    @property
    def allowed(self) -> bool: ...

    @property
    def reason(self) -> str: ...


class ToolCatalog(Protocol):
    """What the loop needs of the registry (`assistant.tools.registry.ToolRegistry`)."""

    def get(self, name: str) -> Tool: ...

    def permits(self, name: str, principal: Principal, tier: Tier | str) -> Permission: ...

    def offered_to(self, principal: Principal, tier: Tier | str) -> list[Tool]: ...


class Classified(Protocol):
    @property
    def tier(self) -> Tier: ...

    @property
    def failed_closed(self) -> bool: ...


class Classifier(Protocol):
    """The sensitivity gate as the tools see it (`assistant.privacy.Privacy.assess`)."""

    def assess(self, text: str, *, source: str) -> Classified: ...


@dataclass(frozen=True, slots=True)
class ToolTurn:
    """Who is calling, at which tier the turn is now, and how to restore pseudonyms."""

    principal: Principal
    tier: Tier
    thread_id: str | None = None
    # Placeholder -> original value, for local tools only (the conversation's vault).
    restore: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Executed:
    """One finished call: its record, and the `tool` message the model reads next."""

    record: ToolCallRecord
    message: ChatMessage

    @property
    def result_tier(self) -> Tier | None:
        return self.record.result_tier


class _Refused(Exception):
    """A call that ends without a usable result: what to record and what the model reads."""

    def __init__(
        self, outcome: ToolOutcome, text: str, detail: str = "", tier: Tier | None = None, attempts: int = 0
    ) -> None:
        super().__init__(text)
        self.outcome, self.text, self.detail = outcome, text, detail
        self.argument_tier, self.attempts = tier, attempts


class ToolRunner:
    def __init__(
        self,
        catalog: ToolCatalog,
        classifier: Classifier,
        *,
        confirm: Confirm | None = None,
        retries: int = 1,
    ) -> None:
        self._catalog = catalog
        self._classifier = classifier
        # Public: a front end (the UI, the terminal) installs its own way of asking.
        self.confirm = confirm
        self._retries = retries

    async def execute(self, call: ToolCall, turn: ToolTurn) -> Executed:
        started = time.monotonic()
        spec: ToolSpec | None = None
        try:
            tool = self._permitted(call, turn)
            spec = tool.spec
            arguments, argument_tier = await self._checked_arguments(call, spec, turn)
            await self._confirmed(spec, arguments)
            result, attempts = await self._run(tool, arguments, turn)
        except _Refused as refused:
            return _refused(call, spec, refused, started)
        result_tier = await self._result_tier(spec, result)
        outcome: ToolOutcome = "error" if result.is_error else "ok"
        record = _record(call, spec, outcome, result.content, started, attempts=attempts)
        record = _with(record, result_tier=result_tier, argument_tier=argument_tier)
        return Executed(record, _tool_message(call, _capped(result.content)))

    def _permitted(self, call: ToolCall, turn: ToolTurn) -> Tool:
        if not call.name:
            raise _Refused("invalid_arguments", _unreadable(call), "the call was not valid JSON")
        permission = self._catalog.permits(call.name, turn.principal, turn.tier)
        if not permission.allowed:
            outcome: ToolOutcome = (
                "not_found" if permission.reason == "no such tool" else "refused_permission"
            )
            text = (
                f"The tool {call.name!r} is not available here ({permission.reason}). Do not call it again."
            )
            raise _Refused(outcome, text, permission.reason)
        return self._catalog.get(call.name)

    async def _checked_arguments(
        self, call: ToolCall, spec: ToolSpec, turn: ToolTurn
    ) -> tuple[BaseModel, Tier | None]:
        external = spec.destination == "external"
        # Only a tool inside the machine may see the values behind placeholders.
        text = call.arguments if external else _restored(call.arguments, turn.restore)
        arguments = _validated(spec, text)
        if not external:
            return arguments, None
        tier = await self._classify(arguments.model_dump_json(), "tool-arguments")
        if tier is Tier.REGULATED or tier.rank > spec.max_argument_tier.rank:
            text = (
                f"The arguments for {spec.name!r} contain {tier.value} information, which may not leave "
                "this machine, so the tool was not called."
            )
            raise _Refused("refused_privacy", text, f"arguments classified {tier.value}", tier)
        return arguments, tier

    async def _confirmed(self, spec: ToolSpec, arguments: BaseModel) -> None:
        if not spec.side_effects:
            return
        try:
            confirmed = self.confirm is not None and await self.confirm(spec, arguments)
        except Exception:  # a broken confirmation is a "no": nothing with side effects runs
            log.exception("tool confirmation failed")
            confirmed = False
        if not confirmed:
            text = f"The user did not confirm {spec.name!r}; nothing was done. Do not retry it."
            raise _Refused("declined_by_user", text, "not confirmed")

    async def _run(self, tool: Tool, arguments: BaseModel, turn: ToolTurn) -> tuple[ToolResult, int]:
        spec = tool.spec
        attempts = 1 + (self._retries if spec.idempotent else 0)
        context = ToolContext(
            principal=turn.principal,
            thread_id=turn.thread_id,
            restore={} if spec.destination == "external" else dict(turn.restore),
        )
        failure: _Refused | None = None
        for attempt in range(1, attempts + 1):
            try:
                async with asyncio.timeout(spec.timeout_s):
                    return await tool.run(arguments, context), attempt
            except TimeoutError:
                text = f"The tool {spec.name!r} did not answer in time."
                failure = _Refused("timeout", text, "timeout", attempts=attempt)
            except Exception as exc:  # a tool's failure is a result the model sees, not a crash
                log.warning("tool %s failed: %s", spec.name, type(exc).__name__)
                text = f"The tool {spec.name!r} failed: {exc}"
                failure = _Refused("error", text, type(exc).__name__, attempts=attempt)
        assert failure is not None
        raise failure

    async def _result_tier(self, spec: ToolSpec, result: ToolResult) -> Tier:
        """The spec's fixed tier, else the gate's reading of the text; never below the tier the
        tool says its data was stored with."""
        if spec.result_tier is not None:
            read = spec.result_tier
        else:
            read = await self._classify(result.content, "tool-result")
        return highest(read, result.tier_floor)

    async def _classify(self, text: str, source: str) -> Tier:
        try:
            decision = await run_interactive(self._classifier.assess, text, source=source)
        except Exception:  # cannot tell: treat as the most sensitive
            log.exception("could not classify %s", source)
            return Tier.REGULATED
        return Tier.REGULATED if decision.failed_closed else highest(decision.tier)


def _validated(spec: ToolSpec, text: str) -> BaseModel:
    try:
        data: Any = json.loads(text or "{}")
        return spec.arguments.model_validate(data)
    except (ValueError, ValidationError) as exc:
        error = _validation_text(exc)
        text = (
            f"The arguments for {spec.name!r} are not valid: {error}. "
            f"Call {spec.name!r} again with arguments that match its schema."
        )
        raise _Refused("invalid_arguments", text, "validation failed") from exc


def _validation_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'arguments'}: {error['msg']}"
            for error in exc.errors()
        )
    return "the arguments are not a JSON object"


def _unreadable(call: ToolCall) -> str:
    return "Your tool call could not be read (it was not valid JSON with a tool name). Write it again."


def _restored(text: str, restore: Mapping[str, str]) -> str:
    for placeholder, value in restore.items():
        # The arguments are JSON: a restored value must stay a valid JSON string fragment.
        text = text.replace(placeholder, json.dumps(value, ensure_ascii=False)[1:-1])
    return text


def _tool_message(call: ToolCall, content: str) -> ChatMessage:
    return ChatMessage(role="tool", content=content, tool_call_id=call.id)


def _record(
    call: ToolCall,
    spec: ToolSpec | None,
    outcome: ToolOutcome,
    content: str,
    started: float,
    *,
    attempts: int,
) -> ToolCallRecord:
    return ToolCallRecord(
        call_id=call.id,
        name=call.name,
        outcome=outcome,
        arguments_sha256=sha256_text(canonical_arguments(call.arguments)),
        result_sha256=sha256_text(content),
        latency_ms=(time.monotonic() - started) * 1000,
        destination=spec.destination if spec else None,
        attempts=attempts,
        arguments_shown=call.arguments,
        summary=_summary(content),
    )


def _with(record: ToolCallRecord, **changes: Any) -> ToolCallRecord:
    return replace(record, **changes)


def _refused(call: ToolCall, spec: ToolSpec | None, refused: _Refused, started: float) -> Executed:
    record = _record(call, spec, refused.outcome, refused.text, started, attempts=refused.attempts)
    record = _with(record, detail=refused.detail, argument_tier=refused.argument_tier)
    return Executed(record, _tool_message(call, refused.text))


def _capped(content: str) -> str:
    if len(content) <= MAX_RESULT_CHARS:
        return content
    return f"{content[:MAX_RESULT_CHARS]}\n[the result was cut at {MAX_RESULT_CHARS} characters]"


def _summary(content: str) -> str:
    flat = " ".join(content.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[: SUMMARY_CHARS - 1] + "…"
