"""Fitting history into a context window: oldest turns go first, nothing overflows."""

from __future__ import annotations

from assistant.context import fit_messages
from models.base import ChatMessage


def words(text: str) -> int:
    return len(text.split())


def convo(turns: int) -> list[ChatMessage]:
    history: list[ChatMessage] = []
    for i in range(turns):
        history.append(ChatMessage(role="user", content=f"question {i} " + "w " * 20))
        history.append(ChatMessage(role="assistant", content=f"answer {i} " + "w " * 20))
    return history


SYSTEM = [ChatMessage(role="system", content="be brief")]


def test_everything_fits_when_small() -> None:
    fitted = fit_messages(
        SYSTEM,
        convo(2),
        ChatMessage(role="user", content="now?"),
        context_window=1000,
        answer_reserve=100,
        count=words,
    )
    assert fitted.dropped_turns == 0
    assert [m.role for m in fitted.messages] == ["system", "user", "assistant", "user", "assistant", "user"]


def test_oldest_turns_are_dropped_first_and_budget_holds() -> None:
    fitted = fit_messages(
        SYSTEM,
        convo(10),
        ChatMessage(role="user", content="latest"),
        context_window=200,
        answer_reserve=50,
        count=words,
    )
    assert fitted.dropped_turns > 0
    kept = [m.content for m in fitted.messages if m.role == "user"]
    assert kept[-1] == "latest"
    assert kept[-2].startswith("question 9")  # the newest history survives
    total = sum(words(m.content) + 4 for m in fitted.messages)
    assert total <= 200 - 50


def test_turns_stay_whole() -> None:
    fitted = fit_messages(
        SYSTEM,
        convo(6),
        ChatMessage(role="user", content="q"),
        context_window=150,
        answer_reserve=20,
        count=words,
    )
    roles = [m.role for m in fitted.messages[1:-1]]
    assert roles == ["user", "assistant"] * (len(roles) // 2)


def test_an_oversized_message_is_shortened_not_sent_whole() -> None:
    huge = ChatMessage(role="user", content="start " + "x " * 5000 + "end")
    fitted = fit_messages(SYSTEM, [], huge, context_window=300, answer_reserve=50, count=words)
    assert fitted.shortened
    sent = fitted.messages[-1].content
    assert sent.startswith("start") and sent.endswith("end")
    assert sum(words(m.content) + 4 for m in fitted.messages) <= 250


def test_max_history_turns_caps_history() -> None:
    fitted = fit_messages(
        SYSTEM,
        convo(5),
        ChatMessage(role="user", content="q"),
        context_window=10_000,
        answer_reserve=10,
        count=words,
        max_history_turns=2,
    )
    assert sum(1 for m in fitted.messages if m.role == "assistant") == 2
