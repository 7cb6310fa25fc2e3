"""Fallback chains, and the guard that keeps local-only turns off hosted models.

`in_order(candidates, attempt)` is the product's one fallback loop: the chat pipeline, the upload
router and `FallbackModel` all walk their candidates with it, so "fall back only before text was
shown, never away from a privacy refusal" is written once.

`FallbackModel(primary, *fallbacks)` tries models in order, but only before the first text delta:
once text reached the user, a broken stream ends as `StreamCutOff` carrying the partial answer
(never a silent restart on another model). When a fallback answers, `on_fallback` receives a
notice the UI shows ("The hosted model is unavailable; answered by the private local model.").

One turn, one budget: a chat turn passes its `TurnClock` (`routing/turn_budget.py`, started at
the user's message) to `in_order`, which gives the hosted part of the chain until the budget's
hosted deadline (a `TurnDeadline` that `RetryingModel` honours, with at least the budget's share
of waiting of its own however late the walk began) and skips any hosted candidate once both
passed; a local model answering after that is cut short at the turn's answer deadline, and is
offered no tools unless the budget says so (`WithoutTools`). `deadline_s` alone is a budget that
starts with the walk. Background steps (upload summaries) pass neither. A timeout or a connection failure
marks the model's *endpoint* for the rest of the turn (its later tool rounds included), so the
next model on the same (hung or unreachable) endpoint is skipped instead of waited for again; a
deadline that stopped an attempt before the endpoint had its fair share of the wait marks nothing.

The chain knows nothing about tiers. `chain_for(route_or_tier, *models)` is where a turn's
privacy decision meets the chain: for a local-only turn (regulated tier, or the local route) it
refuses to build a chain that could reach any hosted model, and wraps every member in
`LocalOnlyModel`, which checks again at call time. So "regulated never reaches hosted" holds
even if routing code upstream has a bug: no fallback, retry or error path can get there.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from models.base import (
    ChatModel,
    ChatRequest,
    ModelAuthError,
    ModelBusy,
    ModelError,
    ModelKind,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    ModelWrapper,
    StreamCutOff,
    StreamEvent,
    TextDelta,
)
from routing.retry import DeadlinePassed, HostedShare, TurnDeadline, closing_stream, deadline_scope
from routing.tiers import Route, Tier
from routing.turn_budget import AttemptTimer, Span, TimedModel, TurnBudget, TurnClock
from routing.warmup import WARM_AFTER_S, LocalWarmup

FallbackOn = tuple[type[ModelError], ...] | Callable[[ModelError], bool]
T = TypeVar("T")
log = logging.getLogger(__name__)

# Routes and tiers that may leave the machine; anything else (including unknown values) is local-only.
_MAY_LEAVE = {Tier.PUBLIC.value, Tier.INTERNAL.value, Route.HOSTED.value, Route.HOSTED_PSEUDONYMIZED.value}


class PrivacyViolation(ModelError):
    """A local-only turn was about to reach a hosted model: stopped before anything was sent."""

    user_message = "This request must stay on the private model, and that model could not answer it."
    retryable = False


class FallbackNotice(BaseModel):
    """Shown to the user when another model answered than the one the turn started with."""

    model_config = ConfigDict(frozen=True)

    from_model: str
    from_kind: ModelKind
    to_model: str
    to_kind: ModelKind
    reason: str
    message: str


class FallbackExhausted(ModelError):
    """Every model of the chain failed before answering; `errors` holds each failure in order."""

    retryable = False

    def __init__(self, errors: list[ModelError]) -> None:
        detail = "; ".join(f"{type(e).__name__}: {e.detail or e}" for e in errors)
        super().__init__(f"all {len(errors)} models failed: {detail}")
        self.errors = tuple(errors)

    @property
    def user_message(self) -> str:  # type: ignore[override]
        # The last model tried is the one the user would have got: its message is the relevant one.
        return self.errors[-1].user_message if self.errors else ModelError.user_message


def _label(kind: ModelKind) -> str:
    return "the private local model" if kind == "local" else "the hosted model"


def _reason(error: ModelError) -> str:
    if isinstance(error, ModelTimeout):
        return "did not answer in time"
    if isinstance(error, ModelRateLimited):
        return "is rate limited"
    if isinstance(error, ModelAuthError):
        return "refused our credentials"
    if isinstance(error, ModelBusy):
        return "is busy"
    return "is unavailable"


def notice_for(failed: ChatModel, error: ModelError, answering: ChatModel) -> FallbackNotice:
    reason = _reason(error)
    message = f"{_label(failed.kind).capitalize()} {reason}; answered by {_label(answering.kind)}."
    if failed.kind == answering.kind:
        message = f"{failed.name} {reason}; answered by {answering.name} instead."
    return FallbackNotice(
        from_model=failed.name,
        from_kind=failed.kind,
        to_model=answering.name,
        to_kind=answering.kind,
        reason=type(error).__name__,
        message=message,
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """One model a route may try, and whether its request must be pseudonymized first."""

    model: ChatModel
    pseudonymize: bool


class SkipCandidate(Exception):
    """An attempt refused its candidate before sending anything (e.g. a request that could not be
    proven safe to pseudonymize): the next candidate is tried, and nothing counts as failed."""


@dataclass(frozen=True, slots=True)
class FellBack:
    """Yielded by `in_order` before the next candidate is tried: which model failed, and why."""

    failed: ChatModel
    error: ModelError
    next: ChatModel


async def in_order(
    candidates: Sequence[Candidate],
    attempt: Callable[[Candidate], AsyncGenerator[T, None]],
    *,
    falls_back: Callable[[ModelError], bool] = lambda _error: True,
    deadline_s: float | None = None,
    turn: TurnClock | None = None,
    on_skip: Callable[[ChatModel, str], None] | None = None,
    warm_local_after_s: float = WARM_AFTER_S,
    warm_request: ChatRequest | None = None,
) -> AsyncIterator[T | FellBack]:
    """The product's one fallback loop: run `attempt` on each candidate until one finishes.

    An attempt's items pass through as they come. A `ModelError` moves on to the next candidate
    (after a `FellBack`) unless text was already shown (`StreamCutOff`), the privacy guard
    refused (`PrivacyViolation`) or `falls_back` says no: then it is raised as it is. A hosted
    candidate is skipped (reported to `on_skip` with the reason) when its endpoint already timed
    out or refused the connection in this turn (in any of its rounds), or when the turn's hosted
    deadline passed (from `turn`, or `deadline_s` from the start of the walk; neither: none).
    While a hosted attempt of a deadlined walk has waited `warm_local_after_s` for its first
    event, a lazily loaded local candidate is warmed (`routing/warmup.py`, with `warm_request` if
    given). Every attempt and skip is recorded on `turn`. When no candidate answered, the failure is raised
    (`FallbackExhausted` with every error if several failed). The order of `candidates` is the
    privacy decision; this loop never adds to it.
    """
    if turn is None and deadline_s is not None:
        turn = TurnClock(TurnBudget(hosted_s=deadline_s, hosted_min_s=0.0))
    walk = _Walk(_hosted_deadline(candidates, turn, warm_local_after_s, warm_request), turn)
    for candidate in candidates:
        reason = walk.skip_reason(candidate.model)
        if reason is not None:
            log.info("skipped %s: %s", candidate.model.name, reason)
            walk.skipped(candidate.model, reason)
            if on_skip is not None:
                on_skip(candidate.model, reason)
            continue
        if walk.last_failed is not None:
            yield FellBack(walk.last_failed, walk.errors[-1], candidate.model)
        scope = walk.deadline if candidate.model.kind == "hosted" else None
        timed, timer = walk.timed(candidate)
        try:
            # Closed however the consumer stops (a stopped turn stops the model at once).
            async with aclosing(attempt(timed)) as items:
                while True:
                    with deadline_scope(scope):  # set and reset around the await, never a yield
                        try:
                            item = await anext(items)
                        except StopAsyncIteration:
                            break
                    yield item
            walk.ended(timer, "ok")
            return
        except SkipCandidate:
            walk.ended(timer, "skipped")
            continue
        except ModelError as exc:
            if isinstance(exc, StreamCutOff | PrivacyViolation) or not falls_back(exc):
                walk.ended(timer, type(exc).__name__)
                raise
            walk.failed(candidate.model, exc, timer)
        except BaseException:
            walk.ended(timer, "cancelled")
            raise
    raise walk.final_error()


def _hosted_deadline(
    candidates: Sequence[Candidate],
    turn: TurnClock | None,
    warm_after_s: float,
    warm_request: ChatRequest | None,
) -> TurnDeadline | None:
    """The hosted deadline of one walk: the turn's, with the share of waiting its hosted part is owed."""
    hosted_by = turn.hosted_by() if turn is not None else None
    if turn is None or hosted_by is None:
        return None
    # While a hosted model keeps the turn waiting, the local fallback gets ready (warmup.py).
    warmup = LocalWarmup([c.model for c in candidates if c.model.kind == "local"], request=warm_request)
    return TurnDeadline(
        hosted_by,
        turn.clock,
        on_slow=warmup.fire,
        slow_after_s=warm_after_s,
        judge_after_s=turn.budget.hosted_min_s,
        share=HostedShare(turn.budget.hosted_min_s),
    )


class _Walk:
    """What one walk of a chain learned: the failures so far and the endpoints not to try again."""

    def __init__(self, deadline: TurnDeadline | None, turn: TurnClock | None = None) -> None:
        self.deadline = deadline
        self.turn = turn
        self.errors: list[ModelError] = []
        self.last_failed: ChatModel | None = None
        # The turn's, when there is one: a later tool round skips what an earlier round found dead.
        self.dead_endpoints: set[str] = turn.dead_endpoints if turn is not None else set()
        self.deadline_skips = 0
        self.hosted_skips = 0

    def skip_reason(self, model: ChatModel) -> str | None:
        if model.kind != "hosted":
            return None
        endpoint = endpoint_of(model)
        if endpoint is not None and endpoint in self.dead_endpoints:
            return f"endpoint {endpoint} failed earlier in this turn"
        if self.deadline is not None and self.deadline.passed():
            self.deadline_skips += 1
            return "the turn's hosted deadline passed"
        return None

    def skipped(self, model: ChatModel, reason: str) -> None:
        self.hosted_skips += 1
        if self.turn is not None:
            now = self.turn.ms()
            self.turn.add(
                Span(
                    phase="skip",
                    start_ms=round(now, 1),
                    ms=0.0,
                    model=model.name,
                    kind=model.kind,
                    outcome=reason,
                )
            )

    def timed(self, candidate: Candidate) -> tuple[Candidate, AttemptTimer | None]:
        """The candidate as the attempt gets it: timed on the turn's clock, and a local model
        answering after hosted ones failed or were skipped bounded by the answer deadline."""
        if self.turn is None:
            return candidate, None
        timer = AttemptTimer(self.turn, candidate.model, began=self.turn.clock())
        cut_at, inner = None, candidate.model
        if candidate.model.kind == "local" and (self.errors or self.hosted_skips):
            cut_at = self.turn.answer_by()
            if not self.turn.budget.fallback_tools:
                inner = WithoutTools(inner)
        model = TimedModel(inner, timer, cut_at=cut_at, min_s=self.turn.budget.local_min_s)
        return Candidate(model, pseudonymize=candidate.pseudonymize), timer

    def ended(self, timer: AttemptTimer | None, outcome: str, *, marked: bool = False) -> None:
        if timer is not None:
            timer.finish(outcome, marked=marked)

    def failed(self, model: ChatModel, error: ModelError, timer: AttemptTimer | None = None) -> None:
        self.errors.append(error)
        self.last_failed = model
        endpoint = endpoint_of(model)
        marked = endpoint is not None and marks_endpoint(error)
        if marked:
            self.dead_endpoints.add(endpoint)  # type: ignore[arg-type]
        self.ended(timer, type(error).__name__, marked=marked)

    def final_error(self) -> ModelError:
        if len(self.errors) > 1:
            return FallbackExhausted(self.errors)
        if self.errors:
            return self.errors[0]
        if self.deadline_skips:
            return DeadlinePassed("the turn's hosted deadline passed before any model was tried")
        return ModelError("no model could take this call")


class WithoutTools(ModelWrapper):
    """A local fallback's request without the tools (`TurnBudget.fallback_tools` off): the model
    answers by itself, as it does when it cannot call tools. The tool exchange so far stays in
    the messages; only the offer of more calls is withdrawn."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        if request.tools:
            request = request.model_copy(update={"tools": (), "tool_choice": "auto"})
        async with closing_stream(self.inner.stream(request)) as events:
            async for event in events:
                yield event


def marks_endpoint(error: ModelError) -> bool:
    """A timeout or a failed connection says the endpoint (not one model on it) is in trouble;
    an HTTP error status or a refusal is about the model or the request, so it marks nothing;
    nor does a turn deadline that stopped the attempt before the endpoint had its fair share."""
    if isinstance(error, DeadlinePassed):
        return error.endpoint_at_fault
    if isinstance(error, ModelTimeout):
        return True
    return isinstance(error, ModelUnavailable) and error.status is None


def endpoint_of(model: Any) -> str | None:
    """The hosted endpoint a (possibly wrapped) model calls, if any wrapper layer names one."""
    for layer in reachable_models(model):
        endpoint = getattr(layer, "endpoint", None)
        if isinstance(endpoint, str) and endpoint:
            return endpoint
    return None


class FallbackModel:
    """Tries `primary`, then each fallback, before the first delta; never after text was shown."""

    def __init__(
        self,
        primary: ChatModel,
        *fallbacks: ChatModel,
        fallback_on: FallbackOn = (ModelError,),
        on_fallback: Callable[[FallbackNotice], None] | None = None,
        deadline_s: float | None = None,
    ) -> None:
        self.models: tuple[ChatModel, ...] = (primary, *fallbacks)
        self._fallback_on = fallback_on
        self._on_fallback = on_fallback
        self._deadline_s = deadline_s

    @property
    def name(self) -> str:
        return self.models[0].name

    @property
    def kind(self) -> ModelKind:
        # Honest about the worst case: a chain that may reach a hosted model is hosted.
        return "hosted" if any(m.kind == "hosted" for m in self.models) else "local"

    @property
    def context_window(self) -> int:
        return min(m.context_window for m in self.models)

    def count_tokens(self, text: str) -> int:
        return max(m.count_tokens(text) for m in self.models)

    def _should_fall_back(self, error: ModelError) -> bool:
        if isinstance(error, PrivacyViolation):
            return False
        if callable(self._fallback_on) and not isinstance(self._fallback_on, tuple):
            return self._fallback_on(error)
        return isinstance(error, self._fallback_on)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        async def attempt(candidate: Candidate) -> AsyncGenerator[StreamEvent, None]:
            partial: list[str] = []
            try:
                async with closing_stream(candidate.model.stream(request)) as events:
                    async for event in events:
                        if isinstance(event, TextDelta):
                            partial.append(event.text)
                        yield event
            except ModelError as exc:
                if any(partial):  # text reached the user: cut off, never restarted elsewhere
                    raise _as_cut_off(exc, "".join(partial)) from exc
                raise

        pending: FallbackNotice | None = None
        candidates = [Candidate(model, pseudonymize=False) for model in self.models]
        walk = in_order(candidates, attempt, falls_back=self._should_fall_back, deadline_s=self._deadline_s)
        async for item in walk:
            if isinstance(item, FellBack):
                pending = notice_for(item.failed, item.error, item.next)
                continue
            if pending is not None and self._on_fallback is not None:
                self._on_fallback(pending)  # only once the fallback really answers
            pending = None
            yield item


def _as_cut_off(error: ModelError, partial: str) -> StreamCutOff:
    if isinstance(error, StreamCutOff):
        return error
    cut = StreamCutOff(f"stream broke after {len(partial)} chars: {error.detail or error}", partial=partial)
    cut.status = error.status
    return cut


def reachable_models(model: Any) -> Iterator[Any]:
    """The model and every model it wraps (through `inner` and `models`), depth first."""
    yield model
    inner = getattr(model, "inner", None)
    if inner is not None:
        yield from reachable_models(inner)
    for member in getattr(model, "models", ()) or ():
        yield from reachable_models(member)


def is_local_only(route_or_tier: Route | Tier | str) -> bool:
    """Regulated turns and the local route stay local; unknown values do too (fail closed)."""
    return str(getattr(route_or_tier, "value", route_or_tier)) not in _MAY_LEAVE


class LocalOnlyModel(ModelWrapper):
    """Refuses, at construction and again at every call, to reach anything but local models."""

    def __init__(self, inner: ChatModel) -> None:
        super().__init__(inner)
        self._check()

    def _check(self) -> None:
        for model in reachable_models(self.inner):
            if getattr(model, "kind", None) != "local":
                raise PrivacyViolation(f"local-only turn would reach {getattr(model, 'name', model)!r}")

    @property
    def kind(self) -> ModelKind:
        return "local"

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self._check()
        async with closing_stream(self.inner.stream(request)) as events:
            async for event in events:
                yield event


def chain_for(
    route_or_tier: Route | Tier | str,
    *models: ChatModel,
    fallback_on: FallbackOn = (ModelError,),
    on_fallback: Callable[[FallbackNotice], None] | None = None,
    deadline_s: float | None = None,
) -> ChatModel:
    """The fallback chain a turn may use. Local-only turns get only local models, guarded twice
    (and need no hosted deadline)."""
    if not models:
        raise ValueError("a chain needs at least one model")
    if not is_local_only(route_or_tier):
        return FallbackModel(*models, fallback_on=fallback_on, on_fallback=on_fallback, deadline_s=deadline_s)
    guarded = [LocalOnlyModel(model) for model in models]  # raises PrivacyViolation for any hosted one
    return LocalOnlyModel(FallbackModel(*guarded, fallback_on=fallback_on, on_fallback=on_fallback))
