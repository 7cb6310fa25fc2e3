"""What a tool turn leaves behind: one record per tool call, and why the loop stopped.

These are the only shapes in which tool activity reaches the audit trail, the metrics and the UI.
A record carries hashes of the arguments and the result, never their text: a tool's arguments or
result may be regulated, and the audit trail's retention policy applies to model calls, not here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from assistant.tools.base import Destination, ToolOutcome
from routing.tiers import Tier

# Why a tool loop ended. "answered": the model answered without asking for another tool.
Termination = Literal[
    "answered", "max_steps", "wall_time", "token_budget", "repeated_call", "invalid_arguments",
    "model_error", "cancelled",
]  # fmt: skip
TERMINATIONS: tuple[Termination, ...] = (
    "answered", "max_steps", "wall_time", "token_budget", "repeated_call", "invalid_arguments",
    "model_error", "cancelled",
)  # fmt: skip

# What the user reads when a bound stopped the loop (the model's own text, if any, stays above it).
STOP_MESSAGES: dict[Termination, str] = {
    "max_steps": "I stopped using tools after the maximum number of steps for one message.",
    "wall_time": "I stopped using tools because this message took too long.",
    "token_budget": "I stopped using tools because this message used its token budget.",
    "repeated_call": (
        "I stopped because the same tool was about to be called again with the same arguments."
    ),
    "invalid_arguments": "I stopped because a tool was called twice with arguments it cannot accept.",
    "model_error": "The model could not continue after a tool call.",
}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def canonical_arguments(arguments: str) -> str:
    """The arguments as canonical JSON (key order and spacing do not make a call different);
    text that is not JSON stays as it is."""
    try:
        parsed: Any = json.loads(arguments)
    except ValueError:
        return arguments.strip()
    return json.dumps(parsed, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call as the audit trail, the metrics and the UI see it."""

    call_id: str
    name: str
    outcome: ToolOutcome
    arguments_sha256: str
    result_sha256: str
    latency_ms: float
    destination: Destination | None
    # The tier of the result (None: nothing ran, so there is no result to classify).
    result_tier: Tier | None = None
    # The tier the gate gave the arguments of an external tool (None: not gated, a local tool).
    argument_tier: Tier | None = None
    attempts: int = 0
    # A short, value-free reason (a refusal's rule, an exception's type); never argument text.
    detail: str = ""
    # For the UI step only: the arguments as the model wrote them and a result summary. Not in
    # the audit trail (only the hashes above are).
    arguments_shown: str = ""
    summary: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True, slots=True)
class LoopReport:
    """How a tool loop ended, and every tool call it made, in order."""

    termination: Termination
    steps: int
    records: tuple[ToolCallRecord, ...]
    tokens: int
    result_tier: Tier | None = None
    # The model answered in a last round without tools after the loop stopped (repeated call):
    # its answer stands and needs no stop message.
    answered_after_stop: bool = False

    @property
    def message(self) -> str:
        return "" if self.answered_after_stop else STOP_MESSAGES.get(self.termination, "")
