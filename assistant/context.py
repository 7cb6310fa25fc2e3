"""Fitting a conversation into a model's context window.

Counts tokens with the target model's own tokenizer and drops the oldest turns first (a turn is
a user message with its answer), so that a request never overflows the context. The system
prompt and the newest user message always stay; an oversized newest message is shortened in the
middle rather than sent whole. A request is first checked against a bound on its count
(`models.tokens.tokens_at_most`: ASCII text needs no tokenizer for it): when even the bound
fits, nothing is dropped or shortened either way, and only non-ASCII messages were tokenized.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models.base import ChatMessage
from models.tokens import tokens_at_most

TokenCounter = Callable[[str], int]
_PER_MESSAGE = 4
_ELISION = "\n[… middle of a long message left out to fit the model's context …]\n"


@dataclass(frozen=True, slots=True)
class FittedContext:
    messages: tuple[ChatMessage, ...]
    dropped_turns: int
    prompt_tokens: int  # counted, or a bound above the count when the request obviously fits
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

    turns = _turns(history)
    if max_history_turns is not None:
        turns = turns[-max_history_turns:] if max_history_turns else []
    everything = (*system, *(m for turn in turns for m in turn), user)
    bound = _bound(everything, count)
    if bound <= budget:  # fits even counted at its most: keep it all
        return FittedContext(everything, len(_turns(history)) - len(turns), bound, shortened=False)
    fixed = sum(cost(m) for m in system)
    shortened = False
    if fixed + cost(user) > budget:
        user = _shorten(user, budget - fixed - _PER_MESSAGE, count)
        shortened = True
    remaining = budget - fixed - cost(user)
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


def _bound(messages: Sequence[ChatMessage], count: TokenCounter) -> int:
    """At least what `fit_messages` would count for `messages`: each message's bound, or its
    count where it has none."""
    total = 0
    for message in messages:
        tokens = tokens_at_most(message.content)
        total += (count(message.content) if tokens is None else tokens) + _PER_MESSAGE
    return total


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
