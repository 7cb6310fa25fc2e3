"""The typed record of a chat turn: what the UI shows, the CLI prints and tests assert on.

A turn streams `AnswerDelta`s and `Notice`s and ends with one `TurnResult`. Nothing here holds
a PII value: entity types and counts only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.experiments.models import TurnVariant
from assistant.identity import Principal
from models.base import ChatMessage, StreamEnd, Usage
from routing.decision import GateDecision
from routing.routed import Outcome as Outcome  # re-exported: the UI names outcomes from here
from routing.tiers import Route, Tier
from routing.turn_budget import TimeSplit


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """Answer text ready for display (placeholders already restored).

    `whole`: the turn's whole answer, written by Confidante rather than a model (a refusal, a
    cached or "not found" answer, the busy or failure sentence); the turn's result follows it at
    once. The API reads that result before answering, so a refusal becomes an HTTP error."""

    text: str
    whole: bool = False


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know about this turn (fallback, hosted not configured, …)."""

    kind: Literal[
        "hosted_not_configured",
        "fallback",
        "cut_off",
        "cut_short",
        "repetition",
        "history_trimmed",
        "busy",
        "escalated",
    ]
    text: str


class Receipt(BaseModel):
    """The privacy receipt shown under every answer and stored with the audit record: a view of
    the turn's `GateDecision` (built by `Receipt.of` only), never a second decision."""

    model_config = ConfigDict(frozen=True)

    tier: Tier
    route: Route
    rule: str
    reasons: tuple[str, ...] = ()
    policy_version: str = ""
    entity_counts: dict[str, int] = Field(default_factory=dict)
    pseudonymized: dict[str, int] = Field(default_factory=dict)
    tainted_by: tuple[str, ...] = ()
    model: str = ""
    model_kind: Literal["local", "hosted", "none"] = "none"
    # What the output guard took out of the answer, by kind ("markup", "link", "echoed_value"): counts only.
    cleaned: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def of(
        cls,
        decision: GateDecision,
        *,
        route: Route | None = None,
        pseudonymized: Mapping[str, int] | None = None,
        end: StreamEnd | None = None,
        cleaned: Mapping[str, int] | None = None,
    ) -> Receipt:
        """The receipt of a turn: its (tainted) decision, plus the turn's facts: the route it
        really took (local when no hosted model is configured), what was pseudonymized, the model
        that answered and what the output guard cleaned."""
        return cls(
            tier=decision.tier,
            route=decision.route if route is None else route,
            rule=decision.rule,
            reasons=decision.reasons,
            policy_version=decision.policy_version,
            entity_counts=decision.entity_counts(),
            tainted_by=decision.tainted_by,
            pseudonymized=dict(pseudonymized or {}),
            model=end.model if end else "",
            model_kind=end.kind if end else "none",
            cleaned=dict(cleaned or {}),
        )


class SourceRef(BaseModel):
    """A cited passage, as shown to the user."""

    model_config = ConfigDict(frozen=True)

    number: int
    doc_id: str
    title: str
    location: str
    snippet: str
    # The whole passage, shown when the citation is opened; `highlight` is the sentence in it
    # that best supports the answer.
    passage: str = ""
    highlight: str = ""
    score: float = 0.0
    tier: Tier = Tier.PUBLIC


class ConfidenceView(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: Literal["high", "medium", "low"]
    score: float
    reason: str
    # Answer support: sentences no cited passage supports (None: the answer was not checked).
    unsupported_sentences: int | None = None


class TurnResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    answer: str
    outcome: Outcome
    route: Literal["local", "hosted", "none"]
    model: str
    usage: Usage = Usage()
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    finish_reason: str = "stop"
    receipt: Receipt
    sources: tuple[SourceRef, ...] = ()
    confidence: ConfidenceView | None = None
    notices: tuple[str, ...] = ()
    escalation_id: str | None = None
    cached: bool = False
    # The A/B experiment variant the turn ran under (assistant/experiments), if any.
    variant: TurnVariant | None = None
    # The tools experiment's variant (tools on/off, step limit), if one applied to this turn.
    tools_variant: TurnVariant | None = None
    # Where the turn's time went, from the user's message: our own queueing, the gate, retrieval,
    # each model attempt and skip, and the deadlines that applied (routing/turn_budget.py).
    timing: TimeSplit | None = None

    def summary(self) -> dict[str, object]:
        """The JSON the CLI prints."""
        return {
            "answer": self.answer,
            "outcome": self.outcome,
            "route": self.route,
            "model": self.model,
            "usage": self.usage.model_dump() | {"total_tokens": self.usage.total_tokens},
            "latency_ms": round(self.latency_ms, 1),
            "ttft_ms": None if self.ttft_ms is None else round(self.ttft_ms, 1),
            "finish_reason": self.finish_reason,
            "tier": self.receipt.tier.value,
            "entities": dict(self.receipt.entity_counts),
            "pseudonymized": dict(self.receipt.pseudonymized),
            "rule": self.receipt.rule,
            "sources": [
                {k: v for k, v in s.model_dump(mode="json").items() if k != "passage"} for s in self.sources
            ],
            "confidence": self.confidence.model_dump() if self.confidence else None,
            "notices": list(self.notices),
            "escalation_id": self.escalation_id,
            "timing": _timing_summary(self.timing),
        }


def _timing_summary(timing: TimeSplit | None) -> dict[str, object] | None:
    """The time split as the CLI prints it: ms per phase, the deadlines, and every span."""
    if timing is None:
        return None
    rounded = timing.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return rounded | {"total_ms": round(timing.total_ms, 1), "ms_by_phase": timing.ms_by_phase()}


TurnEvent = AnswerDelta | Notice | TurnResult


@dataclass
class Conversation:
    """One chat's state in this process: history with real text, its taint and its vault.

    The vault (placeholder ↔ value) never leaves the process and is never persisted.
    """

    id: str
    principal: Principal
    history: list[ChatMessage] = field(default_factory=list)
    tier: Tier = Tier.PUBLIC
    tainted_by: list[str] = field(default_factory=list)
    vault: object | None = None
    hosted_notice_shown: bool = False
    # Answer from the company's documents (retrieval) unless the user switched it off.
    use_documents: bool = True
    # The caller's cap on one answer's tokens (the API's `max_tokens`); None: the model's own limit.
    answer_cap: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def remember(self, user_text: str, answer: str) -> None:
        self.history.append(ChatMessage(role="user", content=user_text))
        if answer:
            self.history.append(ChatMessage(role="assistant", content=answer))
