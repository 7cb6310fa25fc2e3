"""When a turn opens a support ticket by itself, and what the ticket may say.

A ticket is a promise that a person will look, so it is opened only when someone should: the user
asked ("Ask a person", or "let me talk to a human"), a policy rule blocked the turn, or the model
failed the user twice in a row. Never for "not found" or a low-confidence badge: those are honest
answers, and a ticket per honest answer buried the real ones. The ticket's text must never carry
a regulated question: it then records only the tier. Pure functions; nothing here stores anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from models.base import ChatMessage
from routing.tiers import Tier

EscalationReason = Literal["user_request", "policy_block", "repeated_failures"]
# Two failed turns in a row (this one included) are "repeated failures"; one may be a blip.
REPEATED_FAILURES = 2
QUESTION_CHARS = 500
FAILED_OUTCOMES = frozenset({"error", "busy"})


def auto_escalation(
    outcome: str, *, blocked_by_policy: bool, failures_before: int
) -> EscalationReason | None:
    """The reason to open a ticket without the user asking, or None (the usual case)."""
    if blocked_by_policy:
        return "policy_block"
    if outcome in FAILED_OUTCOMES and failures_before + 1 >= REPEATED_FAILURES:
        return "repeated_failures"
    return None


def failures_in_a_row(history: Sequence[ChatMessage]) -> int:
    """Failed turns just before this one: a failed turn leaves a user message with no reply."""
    count = 0
    for message in reversed(history):
        if message.role != "user":
            break
        count += 1
    return count


def ticket_detail(question: str, tier: Tier, outcome: str) -> str:
    """What a reviewer reads: the question itself, or only its tier when it is regulated."""
    if tier == Tier.REGULATED:
        asked = "a question with regulated content (not shown here; open the thread if you may)"
    else:
        text = " ".join(question.split())
        asked = text if len(text) <= QUESTION_CHARS else text[: QUESTION_CHARS - 1] + "…"
        asked = f"“{asked}”"
    return f"{asked}; tier {tier.value}; outcome {outcome}"


def thread_link(thread_id: str) -> str:
    """The app path of a thread, for the escalation console (Chainlit serves threads here)."""
    return f"/thread/{thread_id}"


def last_question(history: Sequence[ChatMessage]) -> str:
    """The user's latest message, for a ticket opened from an answer's "Ask a person" button."""
    return next((m.content for m in reversed(history) if m.role == "user"), "")
