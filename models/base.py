"""The one seam every chat model sits behind.

A model streams text deltas and ends with exactly one `StreamEnd` record carrying usage,
finish reason, model id and timings. Routing, fallbacks, retries and pseudonymization wrap
models from the outside (see `routing/`); no adapter knows about tiers or privacy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]
ModelKind = Literal["local", "hosted"]
# "repetition": cut by `models.degeneration.LoopGuard` because the output started to loop.
FinishReason = Literal["stop", "length", "cancelled", "error", "cut_off", "repetition"]


class ChatMessage(BaseModel):
    """One message of a chat request, exactly as a model will see it."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class ChatRequest(BaseModel):
    """Everything a model needs for one completion."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[ChatMessage, ...]
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    stop: tuple[str, ...] = ()
    # Asks for a JSON object; adapters pass it on where the backend supports it.
    json_mode: bool = False
    # Work nobody is waiting for (document summaries): a shared local worker serves it after
    # every waiting interactive request, so chats never queue behind a long summary.
    background: bool = False

    @classmethod
    def of(cls, messages: Sequence[ChatMessage], **kwargs: object) -> ChatRequest:
        return cls(messages=tuple(messages), **kwargs)  # type: ignore[arg-type]


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    # "server" when the endpoint reported usage, "counted" when we tokenized locally.
    source: Literal["server", "counted"] = "counted"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer, in stream order."""

    text: str


class StreamEnd(BaseModel):
    """The final record of a stream: always the last event, also after cancellation."""

    model_config = ConfigDict(frozen=True)

    model: str
    kind: ModelKind
    usage: Usage
    finish_reason: FinishReason
    latency_ms: float
    ttft_ms: float | None = None
    text: str = ""


StreamEvent = TextDelta | StreamEnd


@runtime_checkable
class ChatModel(Protocol):
    """A chat model: streams `TextDelta`s, then one `StreamEnd`.

    Raising is how a model reports failure (`ModelError` and subclasses); a cancelled
    consumer (`aclose()` on the iterator or task cancellation) must stop generation.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> ModelKind: ...

    @property
    def context_window(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...


class ModelWrapper:
    """Base of the wrappers that compose models from the outside (retry, breaker, guards):
    identity and tokenization are the wrapped model's; subclasses implement `stream`."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def kind(self) -> ModelKind:
        return self.inner.kind

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class ModelError(Exception):
    """A model could not answer. `user_message` is safe to show; details go to the log."""

    user_message = "The model could not answer just now."
    retryable = False

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail or self.user_message)
        self.detail = detail
        self.status = status


class ModelUnavailable(ModelError):
    user_message = "The model is not reachable right now."
    retryable = True


class ModelTimeout(ModelError):
    user_message = "The model took too long to answer."
    retryable = True


class ModelRateLimited(ModelError):
    user_message = "The model is rate limited right now."
    retryable = True

    def __init__(
        self, detail: str = "", *, retry_after: float | None = None, status: int | None = 429
    ) -> None:
        super().__init__(detail, status=status)
        self.retry_after = retry_after


class ModelAuthError(ModelError):
    user_message = "The hosted model refused our credentials; an admin needs to check the API key."


class ModelBadResponse(ModelError):
    user_message = "The model sent a response we could not read."
    retryable = True


class ModelBusy(ModelError):
    """The local worker's queue is full: say so instead of piling up."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"local model queue full; retry in {retry_after_s}s")
        self.retry_after_s = retry_after_s

    @property
    def user_message(self) -> str:  # type: ignore[override]
        return f"The private model is busy, please try again in {self.retry_after_s} s."


class StreamCutOff(ModelError):
    """The stream broke after some text was delivered; `partial` holds what arrived."""

    user_message = "The answer was cut off because the connection to the model broke."
    retryable = True

    def __init__(self, detail: str = "", *, partial: str = "") -> None:
        super().__init__(detail)
        self.partial = partial


@dataclass(slots=True)
class StreamClock:
    """Measures latency and time to first token for one stream."""

    started: float
    first_token: float | None = None
    parts: list[str] = field(default_factory=list)

    def mark(self, now: float, text: str) -> None:
        if self.first_token is None and text:
            self.first_token = now
        self.parts.append(text)

    def ttft_ms(self) -> float | None:
        return None if self.first_token is None else (self.first_token - self.started) * 1000

    @property
    def text(self) -> str:
        return "".join(self.parts)


async def collect(stream: AsyncIterator[StreamEvent]) -> StreamEnd:
    """Drain a stream and return its final record (text filled in)."""
    parts: list[str] = []
    end: StreamEnd | None = None
    async for event in stream:
        if isinstance(event, TextDelta):
            parts.append(event.text)
        else:
            end = event
    if end is None:
        raise ModelBadResponse("stream ended without a final record")
    return end if end.text else end.model_copy(update={"text": "".join(parts)})
