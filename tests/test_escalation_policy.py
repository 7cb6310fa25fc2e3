"""Auto-tickets only for policy blocks and repeated failures; the ticket never shows a regulated question."""

from __future__ import annotations

from assistant.escalation_policy import auto_escalation, failures_in_a_row, thread_link, ticket_detail
from models.base import ChatMessage
from routing.tiers import Tier


def test_no_ticket_for_honest_answers() -> None:
    for outcome in ("ok", "fallback", "cancelled", "over_budget"):
        assert auto_escalation(outcome, blocked_by_policy=False, failures_before=0) is None
    # "not found" and a low badge are ordinary "ok" turns: no reason exists for them at all.
    assert auto_escalation("ok", blocked_by_policy=False, failures_before=5) is None


def test_policy_block_opens_a_ticket() -> None:
    assert auto_escalation("blocked", blocked_by_policy=True, failures_before=0) == "policy_block"


def test_one_failure_is_a_blip_two_are_repeated() -> None:
    assert auto_escalation("error", blocked_by_policy=False, failures_before=0) is None
    assert auto_escalation("error", blocked_by_policy=False, failures_before=1) == "repeated_failures"
    assert auto_escalation("busy", blocked_by_policy=False, failures_before=1) == "repeated_failures"


def test_failures_in_a_row_counts_unanswered_user_turns() -> None:
    user, bot = ChatMessage(role="user", content="q"), ChatMessage(role="assistant", content="a")
    assert failures_in_a_row([]) == 0
    assert failures_in_a_row([user, bot]) == 0
    assert failures_in_a_row([user, bot, user]) == 1
    assert failures_in_a_row([user, user, bot, user, user]) == 2


def test_ticket_shows_the_question_or_only_its_tier() -> None:
    public = ticket_detail("How do I  claim\nmileage?", Tier.PUBLIC, "error")
    assert public == "“How do I claim mileage?”; tier public; outcome error"
    regulated = ticket_detail("My SSN is 536-22-4567, fix my tax form", Tier.REGULATED, "blocked")
    assert "536" not in regulated and "SSN" not in regulated and "tier regulated" in regulated
    assert len(ticket_detail("x" * 5000, Tier.INTERNAL, "error")) < 600


def test_thread_link() -> None:
    assert thread_link("abc-123") == "/thread/abc-123"


def test_last_question_for_the_ask_a_person_button() -> None:
    from assistant.escalation_policy import last_question

    history = [
        ChatMessage(role="user", content="first"),
        ChatMessage(role="assistant", content="a"),
        ChatMessage(role="user", content="second"),
        ChatMessage(role="assistant", content="b"),
    ]
    assert last_question(history) == "second" and last_question([]) == ""
