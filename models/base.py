"""The one seam every chat model sits behind.

A model streams text deltas and ends with exactly one `StreamEnd` record carrying usage,
finish reason, model id and timings. Routing, fallbacks, retries and pseudonymization wrap
models from the outside (see `routing/`); no adapter knows about tiers or privacy.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

Role = Literal["system", "user", "assistant", "tool"]
ModelKind = Literal["local", "hosted"]
# "repetition": cut by `models.degeneration.LoopGuard` because the output started to loop;
# "tool_calls": the model asked for tools (`ToolCallEvent`s came before the end).
FinishReason = Literal["stop", "length", "cancelled", "error", "cut_off", "repetition", "tool_calls"]


class ToolCall(BaseModel):
    """One tool call a model asked for: `arguments` is the JSON text exactly as the model wrote it
    (validated by the caller, never by an adapter)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = "{}"

    def wire(self) -> dict[str, Any]:
        """The OpenAI wire shape of this call (also what llama.cpp's chat templates read)."""
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": "function", "function": function}


class ToolDefinition(BaseModel):
    """A tool as a model sees it: name, description and the JSON schema of its arguments."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    def wire(self) -> dict[str, Any]:
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


class ForceTool(BaseModel):
    """`tool_choice` naming one tool: the model must call exactly this one."""

    model_config = ConfigDict(frozen=True)

    name: str


ToolChoice = Literal["auto", "none", "required"] | ForceTool


class ChatMessage(BaseModel):
    """One message of a chat request, exactly as a model will see it.

    An assistant message may carry the tool calls it made; a `tool` message answers one of them
    (`tool_call_id`). Ordinary messages serialize as before (role and content only), so request
    digests of turns without tools do not change.
    """

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @model_serializer(mode="wrap")
    def _drop_empty_tool_fields(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.tool_calls:
            data.pop("tool_calls", None)
        if self.tool_call_id is None:
            data.pop("tool_call_id", None)
        return data

    def wire(self) -> dict[str, Any]:
        """The OpenAI wire shape (tool calls in their `function` envelope)."""
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [call.wire() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        return data


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
    # Tools the model may call (empty: a plain completion). Only offered to models that support
    # them; `tool_choice` "none" describes them but forbids calls, a `ForceTool` forces one.
    tools: tuple[ToolDefinition, ...] = ()
    tool_choice: ToolChoice = "auto"
    # Who is waiting for the answer (a user id): the private model's fair queue takes turns
    # between requesters. Never sent to any model; None is a requester of its own.
    requester: str | None = None

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


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """A complete tool call (arguments fully assembled), after any text and before `StreamEnd`."""

    call: ToolCall


StreamEvent = TextDelta | ToolCallEvent | StreamEnd


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


@dataclass(frozen=True, slots=True)
class YesNoVerdict:
    """A yes/no answer read from one next-token distribution: greedy, one token, nothing sampled.

    `p_yes` is P(yes) / (P(yes) + P(no)), each summed over its spellings ("Yes", " yes", ...);
    the two log-probabilities are over the whole vocabulary (how sure the model was of either).
    """

    p_yes: float
    yes_logprob: float
    no_logprob: float
    latency_ms: float
    model: str


@runtime_checkable
class YesNoJudge(Protocol):
    """A model that answers a yes/no question by its next-token log-probabilities.

    `judge_yes_no` raises `ModelBusy` rather than queue behind other work, `ModelTimeout` past
    `timeout_s` and `ModelError` otherwise; `idle()` says whether a judgement would start now.
    """

    @property
    def name(self) -> str: ...

    def idle(self) -> bool: ...

    def judge_yes_no(self, messages: Sequence[ChatMessage], *, timeout_s: float) -> YesNoVerdict: ...


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


# Called by a model adapter when the model has accepted a streamed request that someone waits
# on (a hosted endpoint answered 200 with an event stream; the private model's queue took the
# job), before its first token. The governed API sets it for a streamed request, so the client's
# response headers leave while the model works, as a proxy's do, instead of with the first token
# (issue 15: the client reading them was ~0.6 ms of every first token). A context variable, not a
# request field: it is the caller's, for the task that waits, and no adapter or wrapper between
# them has to carry it. Unset (the chat UI, background work): nothing happens.
STREAM_ACCEPTED: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar(
    "confidante_stream_accepted", default=None
)
_log = logging.getLogger(__name__)


async def stream_accepted() -> None:
    """Tell the waiting caller, if any, that the model accepted the request. Never raises: the
    answer matters more than an early header."""
    hook = STREAM_ACCEPTED.get()
    if hook is None:
        return
    try:
        await hook()
    except Exception as exc:  # a client gone meanwhile: the stream itself will notice
        _log.debug("the accepted-stream hook failed: %s", type(exc).__name__)


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
        elif isinstance(event, StreamEnd):
            end = event
    if end is None:
        raise ModelBadResponse("stream ended without a final record")
    return end if end.text else end.model_copy(update={"text": "".join(parts)})
