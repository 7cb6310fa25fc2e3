"""One model call of a summary, routed by the tier of exactly the text it carries.

`TierRouter.ask_text` / `ask_json` pick the models a tier may use (the policy's route through the
`Privacy` seam), pseudonymize before a hosted call and restore the answer, fall back from hosted to
local for public/internal text, and wait (bounded) when the local model's queue is full.
A regulated call is only ever given the local model, wrapped in `LocalOnlyModel`, which re-checks
at call time: no route, fallback or error path here hands regulated text to a hosted model.
Every call is reported to `on_call` as the same `CallRecord` a chat turn produces (model, kind,
tier, hashes, token usage), so summaries are costed, charged to the uploader's budget and metered.
The models a tier may use come from `ModelSet.chain`, the one place routes become model lists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel

from assistant.privacy import Privacy
from models.base import ChatModel, ChatRequest, ModelBusy, ModelError, StreamEnd, Usage, collect
from routing.fallback import is_local_only
from routing.routed import (
    CallRecord,
    Candidate,
    FellBack,
    ModelSet,
    Outcome,
    SkipCandidate,
    Task,
    call_record,
    in_order,
)
from routing.structured import StructuredOutputError, StructuredStats, ask_structured, attempts_usage
from routing.tiers import Route, Tier

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


class _Answer(NamedTuple):
    """One call's result with what its record needs; kept per call, so concurrent maps never mix."""

    value: Any
    usage: Usage
    # None for plain text; True/False for a structured answer that did / did not validate.
    schema_valid: bool | None


class CallBudgetExhausted(Exception):
    """The summary used all the model calls it may make."""


class TierRouter:
    def __init__(
        self,
        models: ModelSet,
        privacy: Privacy,
        *,
        max_calls: int,
        busy_retries: int = 20,
        on_call: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self._models = models
        self._privacy = privacy
        self._busy_retries = busy_retries
        self._on_call = on_call
        self.calls_left = max_calls
        self.calls_made = 0
        # Calls that reached a hosted model (answered or not): the receipt says text left the machine.
        self.hosted_calls = 0
        # Validation of structured (JSON) answers: the dashboard's schema success rate.
        self.stats = StructuredStats()

    def candidates(self, tier: Tier, step: str = "reduce") -> list[Candidate]:
        """The models `tier` may use, in order; local-only tiers get the guarded local model alone.

        Map steps extract points (the cheap hosted model first); the reduce step writes the
        overview (the strong one first).
        """
        # The tier itself is checked too: a regulated text never gets a hosted route (fail closed).
        route = Route.LOCAL if is_local_only(tier) else self._privacy.route_for(tier)
        task: Task = "extraction" if step.startswith("map") else "synthesis"
        return self._models.chain(route, task)

    def may_go_hosted(self, tier: Tier, step: str) -> bool:
        """Whether a call for `tier` may reach a hosted model (its steps may then run concurrently)."""
        return any(candidate.model.kind != "local" for candidate in self.candidates(tier, step))

    async def ask_text(self, step: str, tier: Tier, request: ChatRequest) -> tuple[str, str]:
        """The answer text and the model kind that wrote it."""

        async def call(model: ChatModel, outgoing: ChatRequest) -> _Answer:
            end: StreamEnd = await collect(model.stream(outgoing))
            return _Answer(end.text, end.usage, None)

        text, kind = await self._routed(step, tier, request, call)
        return str(text), kind

    async def ask_json(
        self, step: str, tier: Tier, request: ChatRequest, schema: type[T], reasks: int
    ) -> tuple[T | None, str]:
        """A validated `schema` object (None when the model never produced one) and the model kind."""

        async def call(model: ChatModel, outgoing: ChatRequest) -> _Answer:
            # The first attempt was paid for by the caller; every re-ask is one more call of the budget.
            allowed = max(0, min(reasks, self.calls_left))
            try:
                result = await ask_structured(model, outgoing, schema, max_reasks=allowed, stats=self.stats)
            except StructuredOutputError as exc:
                self._spend(len(exc.attempts) - 1)
                return _Answer(None, attempts_usage(exc.attempts), False)
            self._spend(len(result.attempts) - 1)
            return _Answer(result.value, attempts_usage(result.attempts), not result.degraded)

        value, kind = await self._routed(step, tier, request, call)
        return value, kind

    async def _routed(
        self,
        step: str,
        tier: Tier,
        request: ChatRequest,
        call: Callable[[ChatModel, ChatRequest], Awaitable[_Answer]],
    ) -> tuple[Any, str]:
        async def attempt(candidate: Candidate) -> AsyncGenerator[tuple[Any, str], None]:
            prepared = self._prepare(candidate, request)
            if prepared is None:
                raise SkipCandidate()
            outgoing, restore, replaced = prepared
            raw = await self._with_busy_wait(step, tier, candidate.model, outgoing, call, replaced)
            yield restore(raw), candidate.model.kind

        answer: tuple[Any, str] | None = None
        async for item in in_order(self.candidates(tier, step), attempt):
            if isinstance(item, FellBack):
                log.warning(
                    "summary step %s: %s failed (%s)", step, item.failed.name, type(item.error).__name__
                )
            else:
                answer = item
        if answer is None:  # in_order raises when no candidate answered; this is defence in depth
            raise ModelError("no model could run this summary step")
        return answer

    def _prepare(
        self, candidate: Candidate, request: ChatRequest
    ) -> tuple[ChatRequest, Callable[[Any], Any], int] | None:
        if not candidate.pseudonymize:
            return request, lambda value: value, 0
        try:
            vault = self._privacy.new_vault()
            outgoing, counts = self._privacy.pseudonymize(request, vault)
        except Exception as exc:  # detection failed or egress blocked: this text must not leave
            log.warning("pseudonymization refused a hosted summary call (%s)", type(exc).__name__)
            return None
        restorer = self._privacy.restorer(vault)

        def restore(value: Any) -> Any:
            return _restore_value(value, lambda text: restorer.feed(text) + restorer.flush())

        return outgoing, restore, sum(counts.values())

    async def _with_busy_wait(
        self,
        step: str,
        tier: Tier,
        model: ChatModel,
        request: ChatRequest,
        call: Callable[[ChatModel, ChatRequest], Awaitable[_Answer]],
        replaced: int,
    ) -> Any:
        for attempt in range(self._busy_retries + 1):
            if self.calls_left <= 0:
                raise CallBudgetExhausted()
            self._spend(1)
            started = time.monotonic()
            try:
                if model.kind != "local":
                    self.hosted_calls += 1  # counted before the call: a failed one may have sent it
                answer = await call(model, request)
            except ModelBusy as exc:
                if attempt == self._busy_retries:
                    raise
                self._spend(-1)  # a refused call never reached the model
                self.hosted_calls -= model.kind != "local"
                await asyncio.sleep(min(max(exc.retry_after_s, 1), 10))
                continue
            except ModelError:
                failed = _Answer(None, Usage(), None)
                self._note(step, tier, model, request, failed, "error", started, replaced)
                raise
            self._note(step, tier, model, request, answer, "ok", started, replaced)
            return answer.value
        raise ModelError("unreachable")

    def _spend(self, count: int) -> None:
        self.calls_left -= count
        self.calls_made += count

    def _note(
        self, step: str, tier: Tier, model: ChatModel, request: ChatRequest, answer: _Answer,
        outcome: Outcome, started: float, replaced: int,
    ) -> None:  # fmt: skip
        if self._on_call is None:
            return
        record = call_record(
            model, request, _as_text(answer.value), None, outcome, step=step, tier=tier,
            pseudonymized=replaced, schema_valid=answer.schema_valid,
            latency_ms=(time.monotonic() - started) * 1000, usage=answer.usage,
        )  # fmt: skip
        try:
            self._on_call(record)
        except Exception:  # the audit hook must never break a summary
            log.exception("summary call observer failed")


def _as_text(raw: Any) -> str:
    return raw.model_dump_json() if isinstance(raw, BaseModel) else str(raw or "")


def _restore_value(value: Any, restore: Callable[[str], str]) -> Any:
    """Placeholders back to values in a string or in every string field of a pydantic object."""
    if value is None:
        return None
    if isinstance(value, str):
        return restore(value)
    if isinstance(value, BaseModel):
        data = value.model_dump()
        return type(value).model_validate(_restore_data(data, restore))
    return value


def _restore_data(data: Any, restore: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return restore(data)
    if isinstance(data, list):
        return [_restore_data(item, restore) for item in data]
    if isinstance(data, dict):
        return {key: _restore_data(item, restore) for key, item in data.items()}
    return data
