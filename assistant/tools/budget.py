"""Fitting a tool round into the model's context window: the tool exchange is counted, not guessed.

The turn's own messages were fitted to the window before any tool ran (`assistant.context`); a
tool round adds the tool definitions, the assistant's calls and the tool results. `fit_tool_round`
counts all of it with the target model's counter (`ChatModel.count_tokens`: the local model's own
tokenizer, `models.tokens.approximate_tokens` for hosted models and the fakes) and, while the
request would not leave `answer_reserve` tokens free, in this order:

1. drops the oldest history turns (the system prompt, the user's message and the exchange stay);
2. cuts the largest tool result, keeping its start, with a note saying it was cut;
3. replaces every tool result by a note that it was too large to read, and offers no more tools.

It must never drop or reorder the tool exchange itself (an assistant call without its result is
refused by the OpenAI API), and never add text the model did not write or a tool did not return
other than those notes. A round that fits even counted at its most (`models.tokens.tokens_at_most`
for ASCII text, the count for the rest) is sent as it is without tokenizing the rest.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models.base import ChatMessage, ModelWrapper, ToolDefinition
from models.tokens import tokens_at_most

TokenCounter = Callable[[str], int]
# Role markers of a chat template (ChatML: `<|im_start|>role\n … <|im_end|>\n`), per message.
PER_MESSAGE = 4
# What a chat template adds around tool definitions (Qwen's "# Tools … <tools></tools>" preamble).
TOOLS_PREAMBLE = 120
CUT_NOTE = "\n[the rest of this result was left out to fit the model's context window]"
LEFT_OUT = "[this result was left out: it does not fit the model's context window]"
# Less than this of a result is not worth reading: it is left out instead.
MIN_RESULT_TOKENS = 32


@dataclass(frozen=True, slots=True)
class FittedRound:
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolDefinition, ...]
    prompt_tokens: int  # counted, or a bound above the count when the round obviously fits
    dropped_messages: int = 0
    results_cut: int = 0
    results_left_out: int = 0


def message_tokens(message: ChatMessage, count: TokenCounter) -> int:
    calls = sum(count(call.name) + count(call.arguments) for call in message.tool_calls)
    return count(message.content) + calls + PER_MESSAGE


def tools_tokens(tools: Sequence[ToolDefinition], count: TokenCounter) -> int:
    if not tools:
        return 0
    return TOOLS_PREAMBLE + sum(
        _definition_tokens(count, json.dumps(tool.wire(), ensure_ascii=False)) for tool in tools
    )


def _definition_tokens(count: TokenCounter, text: str) -> int:
    """A tool definition is the same text on every turn: counted once per model's counter, not
    with a real tokenizer before every turn's first byte (profiled on the API path, issue 15)."""
    try:
        return _remembered_tokens(_lasting(count), text)
    except TypeError:  # a counter that cannot be a key (bound to an unhashable object)
        return count(text)


@functools.lru_cache(maxsize=1024)
def _remembered_tokens(count: TokenCounter, text: str) -> int:
    return count(text)


def _lasting(count: TokenCounter) -> TokenCounter:
    """The counter a wrapper's `count_tokens` hands over to: each attempt wraps its model anew
    (`TimedModel`), so the wrapper's own method would be a new key on every turn."""
    owner = getattr(count, "__self__", None)
    while isinstance(owner, ModelWrapper) and type(owner).count_tokens is ModelWrapper.count_tokens:
        owner = owner.inner
        count = owner.count_tokens
    return count


def fit_tool_round(
    base: Sequence[ChatMessage],
    exchange: Sequence[ChatMessage],
    tools: Sequence[ToolDefinition],
    *,
    context_window: int,
    answer_reserve: int,
    count: TokenCounter,
) -> FittedRound:
    """`base` (system, history, the user's message) then the `exchange`, within the window."""
    budget = max(64, context_window - answer_reserve)
    base, exchange, offered = list(base), list(exchange), tuple(tools)
    model_count, count = count, _memoized(count)

    def total() -> int:
        messages = sum(message_tokens(m, count) for m in (*base, *exchange))
        return messages + tools_tokens(offered, model_count)  # definitions: remembered across turns

    def bounded(text: str) -> int:
        tokens = tokens_at_most(text)
        return count(text) if tokens is None else tokens

    bound = sum(message_tokens(m, bounded) for m in (*base, *exchange)) + tools_tokens(offered, model_count)
    if bound <= budget:  # fits even counted at its most: nothing to drop or cut either way
        return FittedRound(tuple(base + exchange), offered, bound)
    dropped = _drop_history(base, lambda: total() > budget)
    cut = left_out = 0
    while total() > budget and (index := _largest_result(exchange, count)) is not None:
        exchange[index] = _cut(exchange[index], total() - budget, count)
        if exchange[index].content == LEFT_OUT:
            left_out += 1
        else:
            cut += 1
    if total() > budget:
        offered = ()  # the model answers from what it has: no more calls
        for i, message in enumerate(exchange):
            if message.role == "tool" and message.content != LEFT_OUT:
                exchange[i] = message.model_copy(update={"content": LEFT_OUT})
                left_out += 1
    return FittedRound(tuple(base + exchange), offered, total(), dropped, cut, left_out)


def _memoized(count: TokenCounter) -> TokenCounter:
    """`count` remembering its answers for one fitting: `total()` is asked again after every drop or
    cut, and a real tokenizer costs ~0.3 ms a call (profiled: ~15 ms of every turn with tools)."""
    known: dict[str, int] = {}

    def counted(text: str) -> int:
        if text not in known:
            known[text] = count(text)
        return known[text]

    return counted


def _drop_history(base: list[ChatMessage], over: Callable[[], bool]) -> int:
    """Oldest first, between the leading system messages and the user's (last) message."""
    first = next((i for i, m in enumerate(base) if m.role != "system"), len(base))
    dropped = 0
    while over() and first < len(base) - 1:
        del base[first]
        dropped += 1
    return dropped


def _largest_result(exchange: Sequence[ChatMessage], count: TokenCounter) -> int | None:
    """The biggest tool result still worth cutting (above the minimum and not already a note)."""
    sizes = [
        (count(m.content), i)
        for i, m in enumerate(exchange)
        if m.role == "tool" and m.content != LEFT_OUT and count(m.content) > MIN_RESULT_TOKENS
    ]
    return max(sizes)[1] if sizes else None


def _cut(message: ChatMessage, over: int, count: TokenCounter) -> ChatMessage:
    """The result's start, `over` tokens shorter (plus the note), or the note alone."""
    text = message.content
    target = count(text) - over - count(CUT_NOTE)
    if target < MIN_RESULT_TOKENS:
        return message.model_copy(update={"content": LEFT_OUT})
    keep = len(text)
    while keep > 0 and count(text[:keep]) > target:
        keep = int(keep * 0.9)
    return message.model_copy(update={"content": text[:keep].rstrip() + CUT_NOTE})
