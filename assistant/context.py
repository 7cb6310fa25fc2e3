"""Fitting a conversation into a model's context window.

Counts tokens with the target model's own tokenizer and drops the oldest turns first (a turn is
a user message with its answer), so that a request never overflows the context. The system
prompt and the newest user message always stay; an oversized newest message is shortened in the
middle rather than sent whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models.base import ChatMessage

TokenCounter = Callable[[str], int]
_PER_MESSAGE = 4
_ELISION = "\n[… middle of a long message left out to fit the model's context …]\n"


@dataclass(frozen=True, slots=True)
class FittedContext:
    messages: tuple[ChatMessage, ...]
    dropped_turns: int
    prompt_tokens: int
    shortened: bool


def fit_messages(
    system: Sequence[ChatMessage],
    history: Sequence[ChatMessage],
    user: ChatMessage,
    *,
    context_window: int,
    answer_reserve: int,
    count: TokenCounter,
    max_history_turns: int | None = None,
) -> FittedContext:
    """Keep as much recent history as fits in `context_window - answer_reserve` tokens."""
    budget = max(64, context_window - answer_reserve)

    def cost(message: ChatMessage) -> int:
        return count(message.content) + _PER_MESSAGE

    fixed = sum(cost(m) for m in system)
    shortened = False
    if fixed + cost(user) > budget:
        user = _shorten(user, budget - fixed - _PER_MESSAGE, count)
        shortened = True
    remaining = budget - fixed - cost(user)
    turns = _turns(history)
    if max_history_turns is not None:
        turns = turns[-max_history_turns:] if max_history_turns else []
    kept: list[list[ChatMessage]] = []
    for turn in reversed(turns):
        turn_cost = sum(cost(m) for m in turn)
        if turn_cost > remaining:
            break
        kept.insert(0, turn)
        remaining -= turn_cost
    messages = (*system, *(m for turn in kept for m in turn), user)
    return FittedContext(
        messages=messages,
        dropped_turns=len(_turns(history)) - len(kept),
        prompt_tokens=budget - remaining,
        shortened=shortened,
    )


def _turns(history: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Group history into turns, each starting at a user message."""
    turns: list[list[ChatMessage]] = []
    for message in history:
        if message.role == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return turns


def _shorten(message: ChatMessage, budget: int, count: TokenCounter) -> ChatMessage:
    """Cut the middle out of a message until it fits `budget` tokens."""
    text = message.content
    if budget <= count(_ELISION) + 8:
        return message.model_copy(update={"content": text[: max(0, budget)]})
    keep = len(text)
    while keep > 0 and count(text[: keep // 2] + _ELISION + text[len(text) - keep // 2 :]) > budget:
        keep = int(keep * 0.8)
    head, tail = text[: keep // 2], text[len(text) - keep // 2 :] if keep // 2 else ""
    return message.model_copy(update={"content": head + _ELISION + tail})
