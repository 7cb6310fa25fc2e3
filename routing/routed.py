"""The routed model path: which models a route may use, and the one record of every call made.

Every model call of the product (chat turns, summary steps, structured calls) is planned here:
`ModelSet.chain(route, task)` is the only place that turns a privacy route into an ordered list of
`Candidate`s, `in_order` (in `routing.fallback`) is the one fallback loop that walks such a
list, and `CallRecord` is the only shape in which a call is reported (audit trail, budgets,
metrics, dashboard). A local-only route gets the local model alone, wrapped in `LocalOnlyModel`,
which refuses at construction and at every call to reach a hosted model.

This module must never hand a model to a local-only route that could reach a hosted endpoint, and
never record raw text except in the fields the audit trail's retention policy decides about.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

from models.base import ChatModel, ChatRequest, StreamEnd, Usage
from routing.fallback import Candidate as Candidate
from routing.fallback import FellBack as FellBack
from routing.fallback import LocalOnlyModel, is_local_only
from routing.fallback import SkipCandidate as SkipCandidate
from routing.fallback import in_order as in_order
from routing.tiers import Route, Tier

# What happened to a turn or a call; the audit trail stores the same vocabulary.
Outcome = Literal["ok", "error", "fallback", "blocked", "escalated", "cancelled", "busy", "over_budget"]
# The strong hosted model writes answers and overviews; the cheap one extracts and classifies.
Task = Literal["synthesis", "extraction"]


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One model call as the audit trail, the budgets and the metrics see it.

    Chat turns and summary steps produce this same record, so every call is costed and charged.
    """

    model: str
    kind: str
    request_sha256: str
    response_sha256: str
    outcome: Outcome
    usage_prompt: int = 0
    usage_completion: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    error: str = ""
    request_text: str = ""
    response_text: str = ""
    # Which step of the product made the call ("chat", "map-3", "reduce", ...).
    step: str = "chat"
    # The tier of exactly the text the call carried (None: the turn's receipt says it).
    tier: Tier | None = None
    pseudonymized: int = 0
    # For JSON steps: did the answer validate against its schema (None: not a JSON step).
    schema_valid: bool | None = None

    @property
    def total_tokens(self) -> int:
        return self.usage_prompt + self.usage_completion


def request_body(request: ChatRequest) -> str:
    """The canonical text of what was sent: the audit trail hashes (and may keep) exactly this."""
    return json.dumps([m.model_dump() for m in request.messages], ensure_ascii=False, sort_keys=True)


def request_digest(request: ChatRequest) -> str:
    return text_digest(request_body(request))


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def call_record(
    model: ChatModel,
    request: ChatRequest,
    response: str,
    end: StreamEnd | None,
    outcome: Outcome,
    *,
    error: str = "",
    step: str = "chat",
    tier: Tier | None = None,
    pseudonymized: int = 0,
    schema_valid: bool | None = None,
    latency_ms: float | None = None,
    usage: Usage | None = None,
) -> CallRecord:
    """The record of one finished (or failed) call; usage and timings come from its `StreamEnd`
    unless given (a structured call adds up the usage of its attempts)."""
    if usage is None:
        usage = end.usage if end else Usage()
    return CallRecord(
        model=model.name,
        kind=model.kind,
        request_sha256=request_digest(request),
        response_sha256=text_digest(response),
        outcome=outcome,
        usage_prompt=usage.prompt_tokens,
        usage_completion=usage.completion_tokens,
        latency_ms=latency_ms if latency_ms is not None else (end.latency_ms if end else 0.0),
        ttft_ms=end.ttft_ms if end else None,
        error=error,
        request_text=request_body(request),
        response_text=response,
        step=step,
        tier=tier,
        pseudonymized=pseudonymized,
        schema_valid=schema_valid,
    )


@dataclass
class ModelSet:
    """The models the product may use. `hosted` is empty when no endpoint is configured."""

    local: ChatModel
    hosted: list[ChatModel] = field(default_factory=list)

    @property
    def hosted_configured(self) -> bool:
        return bool(self.hosted)

    def hosted_for(self, task: Task) -> list[ChatModel]:
        """Hosted models in the order a task should try them: the strong model writes answers
        and overviews (synthesis); the cheap one does extraction and classification-like steps."""
        return list(self.hosted) if task == "synthesis" else list(reversed(self.hosted))

    def chain(self, route: Route | Tier, task: Task = "synthesis") -> list[Candidate]:
        """The models `route` may use, in order: hosted ones first (pseudonymized on the
        pseudonymized route), then the local one. Local-only routes get the guarded local model
        alone; so does every route when no hosted model is configured."""
        local = Candidate(LocalOnlyModel(self.local), pseudonymize=False)
        if is_local_only(route) or not self.hosted:
            return [local]
        pseudonymize = route == Route.HOSTED_PSEUDONYMIZED
        hosted = [Candidate(model, pseudonymize=pseudonymize) for model in self.hosted_for(task)]
        return [*hosted, local]
