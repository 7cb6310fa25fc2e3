"""Settings for retries, circuit breakers, the response cache and structured outputs.

Per-call timeouts are not here: they belong to the hosted endpoint
(`models.settings.HostedModelSettings`). The one per-turn deadline is: it bounds the whole hosted
part of a fallback chain, so a hung endpoint cannot hold a turn longer than this before the local
model (or a clear message) takes over.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class ReliabilitySettings(BaseModel):
    # Attempts per model call, the first one included; retries happen only before the first token.
    retry_attempts: int = Field(default=3, ge=1, le=10)
    backoff_base_s: float = Field(default=0.25, ge=0)
    backoff_max_s: float = Field(default=4.0, ge=0)
    # No new attempt starts after this many seconds from the first; a Retry-After beyond it gives up.
    retry_budget_s: float = Field(default=8.0, gt=0)
    # Seconds from the user's message (our own queueing, the gate and retrieval included) within
    # which a hosted model must send its first event; past it the chain skips every hosted model
    # (local answers, or the turn ends with a message). Leaves room under the 12 s answer goal.
    hosted_turn_deadline_s: float = Field(default=8.0, gt=0)
    # The hosted part of a turn always gets this much time of its own, however long the turn
    # waited in our queues first; a hosted attempt stopped by the deadline sooner than this marks
    # nothing (the endpoint was not given a fair chance, so it is not judged).
    hosted_min_attempt_s: float = Field(default=3.0, gt=0)
    # A local model answering after hosted models failed must be done this many seconds after the
    # message: past it the answer is cut short, with a notice ...
    turn_answer_deadline_s: float = Field(default=11.0, gt=0)
    # ... but never before it generated this long (the wait for the private model's queue is not
    # cut: the queue bounds it and the user sees their place in line).
    local_fallback_min_s: float = Field(default=2.0, gt=0)
    # Whether a local model answering after hosted models failed (or were skipped) is offered the
    # turn's tools. Off: Qwen 1.5B's prompt with the five built-in tools is 972 tokens (47
    # without), read in 33-36 s at load 5 here (~10 s at the 95 tokens/s measured quiet), and it
    # called a tool it did not need for about 1 question in 6 (issue 14), each round seconds more:
    # after an 8 s hosted wait that cannot end within 12 s.
    # It answers by itself instead, as it does with passages. Local-only turns keep their tools.
    local_fallback_tools: bool = False
    # Consecutive failures that open an endpoint's circuit, and how long it stays open.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    cache_enabled: bool = True
    cache_ttl_s: float = Field(default=600.0, gt=0)
    cache_max_entries: int = Field(default=1000, ge=1)
    # Re-asks after the first answer failed validation (so at most 1 + this many calls).
    structured_max_reasks: int = Field(default=2, ge=0, le=5)

    @model_validator(mode="after")
    def _backoff_order(self) -> ReliabilitySettings:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be at least backoff_base_s")
        if self.turn_answer_deadline_s <= self.hosted_turn_deadline_s:
            raise ValueError("turn_answer_deadline_s must be later than hosted_turn_deadline_s")
        return self
