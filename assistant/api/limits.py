"""How much a caller may ask of one completion: the answer's cap and the prompt's size.

`answer_cap` reads `max_tokens` / `max_completion_tokens`: below 1 (or not an integer) is a 400
in the OpenAI shape; a cap above what the serving model may write is clamped to that limit by
the pipeline, not refused: for `confidante` the caller cannot know which route will answer, the
SDKs' habit of a large cap meaning "no cap" keeps working, and `finish_reason: "length"` still
says the answer was cut.

`PromptWindow` refuses a request whose messages cannot fit the context of every model that may
serve it (for `confidante` the smallest window among all its routes: the route is only known
after the gate) with 400 `context_length_exceeded`, before the gate's models run. It counts with
each model's own tokenizer (the local model's llama.cpp vocabulary; the hosted models' count),
and only when the UTF-8 length could exceed the window at all: no tokenizer writes more tokens
than bytes, so a prompt within that bound fits without counting.

`decoded_body` undoes a gzip or deflate `Content-Encoding` (some HTTP clients compress what they
send), with the same size limit on what it inflates to as on a plain body (no zip bomb), and
refuses other encodings with 415 instead of reading compressed bytes as broken JSON.

This module only counts: it never sends, logs or keeps any of the prompt's text.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.api.errors import ApiError, invalid, too_large, unsupported_encoding
from assistant.api.schema import MODEL_LOCAL, ChatCompletionRequest
from assistant.executors import run_interactive
from assistant.settings import Settings
from models.base import ChatModel, ModelError
from routing.routed import ModelSet

CAP_FIELDS = ("max_completion_tokens", "max_tokens")
# What the chat template adds around each message (the pipeline's fitting counts the same).
PER_MESSAGE_TOKENS = 4


def answer_cap(request: ChatCompletionRequest) -> int | None:
    """The caller's cap on the answer's tokens (the smaller if both names are sent), or None."""
    caps = [_cap(request, name) for name in CAP_FIELDS]
    given = [cap for cap in caps if cap is not None]
    return min(given) if given else None


def _cap(request: ChatCompletionRequest, name: str) -> int | None:
    value = (request.model_extra or {}).get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"Invalid '{name}': expected an integer.", code="invalid_type", param=name)
    if value < 1:
        raise ApiError(
            400, f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value}.",
            code="integer_below_min_value", param=name,
        )  # fmt: skip
    return value


# zlib's window bits for "a zlib or a gzip header, whichever it is": HTTP's `deflate` is sent
# both raw-zlib-wrapped and (wrongly, by some clients) as gzip.
_ZLIB_OR_GZIP = 32 + zlib.MAX_WBITS


def decoded_body(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """The body as sent before its `Content-Encoding`, at most `limit` bytes once inflated."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise unsupported_encoding(encoding)
    inflater = zlib.decompressobj(_ZLIB_OR_GZIP)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise invalid(f"The request body is not valid {encoding} data.") from None
    if len(body) > limit:
        raise too_large(limit)
    if not inflater.eof:
        raise invalid(f"The request body's {encoding} data is truncated.")
    return body


@dataclass(frozen=True)
class WindowLimit:
    """One model's room for the caller's messages: its window less the answer and system prompt."""

    model: ChatModel
    context_window: int
    answer_reserve: int

    def prompt_budget(self, system_prompt: str, cap: int | None) -> int:
        reserve = min(self.answer_reserve, cap) if cap is not None else self.answer_reserve
        system = _count(self.model, system_prompt) + PER_MESSAGE_TOKENS
        return self.context_window - reserve - system

    def prompt_tokens(self, texts: Sequence[str]) -> int:
        return sum(_count(self.model, text) + PER_MESSAGE_TOKENS for text in texts)


def _count(model: ChatModel, text: str) -> int:
    try:
        return model.count_tokens(text)
    except ModelError:
        # No tokenizer at hand: the byte length bounds any count from above (fails closed).
        return len(text.encode("utf-8"))


@dataclass(frozen=True)
class PromptWindow:
    """The windows of the models a request may be served by, checked before the gate."""

    local: WindowLimit
    hosted: tuple[WindowLimit, ...]
    system_prompt: str

    @classmethod
    def of(cls, models: ModelSet, settings: Settings) -> PromptWindow:
        reserve = settings.chat.answer_reserve_tokens
        local = models.local
        hosted_max = settings.models.hosted.max_tokens
        return cls(
            local=WindowLimit(local, local.context_window, min(settings.models.local.max_tokens, reserve)),
            hosted=tuple(WindowLimit(m, m.context_window, min(hosted_max, reserve)) for m in models.hosted),
            system_prompt=settings.chat.system_prompt,
        )

    def limits_for(self, model: str) -> tuple[WindowLimit, ...]:
        """`confidante-local` is served by the local model only; `confidante` by any route."""
        return (self.local,) if model == MODEL_LOCAL else (*self.hosted, self.local)

    async def check(self, request: ChatCompletionRequest, cap: int | None) -> None:
        """Raise 400 `context_length_exceeded` if the messages cannot fit every serving model."""
        texts = [message.text() for message in request.messages]
        limits = self.limits_for(request.model)
        room = min(limit.context_window - limit.answer_reserve for limit in limits)
        upper = sum(len(text.encode("utf-8")) + PER_MESSAGE_TOKENS for text in (self.system_prompt, *texts))
        if upper <= room:
            return  # fits even if every byte were a token: nothing to count
        # Tokenizing a long prompt takes milliseconds: off the event loop, like the gate.
        over = await run_interactive(self._first_overflow, limits, texts, cap)
        if over is not None:
            raise context_length_exceeded(request.model, *over)

    def _first_overflow(
        self, limits: Sequence[WindowLimit], texts: Sequence[str], cap: int | None
    ) -> tuple[int, int, int] | None:
        for limit in sorted(limits, key=lambda limit: limit.context_window):
            budget = limit.prompt_budget(self.system_prompt, cap)
            used = limit.prompt_tokens(texts)
            if used > budget:
                return limit.context_window, budget, used
        return None


def context_length_exceeded(model: str, context_window: int, budget: int, used: int) -> ApiError:
    which = "the local model" if model == MODEL_LOCAL else "the smallest among its routes"
    return ApiError(
        400,
        f"This request's messages are {used} tokens, over the {budget} tokens they may use: the model "
        f"{model!r} may be answered by a model with a context window of {context_window} tokens "
        f"({which}), of which {context_window - budget} are kept for the answer and the system "
        "prompt. Shorten the messages.",
        code="context_length_exceeded",
        param="messages",
    )
