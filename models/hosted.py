"""Any OpenAI-compatible endpoint through the official `openai` async client.

This adapter only speaks the wire format. It never decides what may be sent: by the time a
request reaches it, routing has already kept regulated turns local and pseudonymized the rest.
The SDK's own retries are off for hosted endpoints (`max_retries=0`): exactly one layer owns
retries (`routing.retry`); a private server (kind "local") has no such layer, so its client
retries once. Timeouts are explicit (the SDK default is 600 s).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai

from models.base import (
    ChatRequest,
    ModelAuthError,
    ModelBadResponse,
    ModelError,
    ModelKind,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    StreamClock,
    StreamCutOff,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolChoice,
    Usage,
    stream_accepted,
)
from models.settings import HostedModelSettings
from models.tokens import TokenCounter
from models.tokens import approximate_tokens as approximate_tokens  # re-exported for the app
from models.tool_calls import ToolCallAssembler

log = logging.getLogger(__name__)


class HostedModel:
    """One model name on one OpenAI-compatible endpoint."""

    def __init__(
        self,
        model_name: str,
        settings: HostedModelSettings,
        *,
        count_tokens: TokenCounter = approximate_tokens,
        context_window: int = 8192,
        client: openai.AsyncOpenAI | None = None,
        kind: ModelKind = "hosted",
    ) -> None:
        # kind="local" only for a server on the operator's own hardware (models.local.server_url):
        # the same wire format, but inside the privacy boundary.
        self._kind: ModelKind = kind
        self._model = model_name
        self._settings = settings
        self._count = count_tokens
        self._context_window = context_window
        # The private server has no retry layer above it (the routed chain's retries are for
        # hosted endpoints), and llama.cpp's server can drop a kept-alive connection as it is
        # reused ("Server disconnected without sending a response"): its client retries once.
        self._client = client or make_client(settings, retries=1 if kind == "local" else 0)

    @property
    def name(self) -> str:
        return self._model

    @property
    def kind(self) -> ModelKind:
        return self._kind

    @property
    def context_window(self) -> int:
        return self._context_window

    @property
    def endpoint(self) -> str:
        return str(self._client.base_url)

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    async def aclose(self) -> None:
        """Close the HTTP connection pool (the client is bound to the event loop that used it)."""
        await self._client.close()

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        clock = StreamClock(started=time.monotonic())
        # The total timeout is a deadline checked around each await, never a scope around a
        # `yield`: a scope would fire its cancellation into whatever the consumer is doing.
        deadline = clock.started + self._settings.total_timeout_s
        usage: Usage | None = None
        finish = "stop"
        # Tool-call deltas come in pieces (id and name once, arguments JSON in fragments).
        assembler = ToolCallAssembler()
        try:
            async with asyncio.timeout(self._settings.total_timeout_s):
                response = await self._open(request)
            try:
                _require_event_stream(response)
                await stream_accepted()
                finished = False
                async for chunk in self._chunks(response, deadline):
                    if (counted := chunk.get("usage")) is not None:
                        usage = Usage(
                            prompt_tokens=counted.get("prompt_tokens") or 0,
                            completion_tokens=counted.get("completion_tokens") or 0,
                            source="server",
                        )
                    for choice in (chunk.get("choices") or ())[:1]:
                        delta = choice.get("delta") or {}
                        text = delta.get("content") or ""
                        if not isinstance(text, str):
                            raise ModelBadResponse(f"a chunk's content is a {type(text).__name__}, not text")
                        if text:
                            clock.mark(time.monotonic(), text)
                            yield TextDelta(text)
                        if delta.get("tool_calls"):
                            assembler.feed(delta["tool_calls"])
                        reason = choice.get("finish_reason")
                        if reason in ("length", "tool_calls"):
                            finish = reason
                        finished = finished or bool(reason)
                if not finished:
                    # Every OpenAI-style stream ends with a finish reason; without one it broke off.
                    raise ModelBadResponse("the stream ended without a finish reason")
            finally:
                await response.close()
        except _STREAM_ERRORS as exc:
            raise self._broken(as_model_error(exc), clock) from exc
        calls = assembler.calls() if request.tools else ()
        for call in calls:
            yield ToolCallEvent(call)
        if calls:
            finish = "tool_calls"
        yield StreamEnd(
            model=self._model,
            kind=self._kind,
            usage=usage or self._counted_usage(request, clock.text),
            finish_reason=finish,  # type: ignore[arg-type]
            latency_ms=(time.monotonic() - clock.started) * 1000,
            ttft_ms=clock.ttft_ms(),
            text=clock.text,
        )

    async def _open(self, request: ChatRequest) -> Any:
        """POST the request and return the SDK's stream of chunks, each the JSON object as sent.

        The body is already in wire form (`ChatMessage.wire`, `ToolDefinition.wire`), so it goes
        through the SDK's `post` rather than `chat.completions.create`: the same request, headers,
        error mapping and event-stream decoding, without the typed transform that walked every
        message and tool schema before each request, nor a pydantic object built for every chunk
        (together ~1 ms of a hosted answer's first token, issue 15)."""
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [m.wire() for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.json_mode:
            body["response_format"] = {"type": "json_object"}
        if request.stop:
            body["stop"] = list(request.stop)
        if request.tools:
            body["tools"] = [tool.wire() for tool in request.tools]
            body["tool_choice"] = openai_tool_choice(request.tool_choice)
        return await self._client.post(
            "/chat/completions", cast_to=object, body=body, stream=True, stream_cls=openai.AsyncStream[object]
        )

    async def _chunks(self, response: Any, deadline: float) -> AsyncIterator[Any]:
        """Yield chunks: the first within the first-token timeout, all before the deadline."""
        iterator = response.__aiter__()
        first = True
        while True:
            remaining = deadline - time.monotonic()
            first_token_bound = first and self._settings.first_token_timeout_s < remaining
            limit = self._settings.first_token_timeout_s if first_token_bound else remaining
            try:
                async with asyncio.timeout(max(0.0, limit)):
                    chunk = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                if first_token_bound:
                    raise ModelTimeout("no first token within the first-token timeout") from None
                raise ModelTimeout("hosted model exceeded the total timeout") from None
            first = False
            yield chunk

    def _broken(self, error: ModelError, clock: StreamClock) -> ModelError:
        """A failure after text was delivered is a cut-off stream, carrying the partial answer."""
        if clock.text:
            cut = StreamCutOff(
                f"stream broke after {len(clock.text)} chars: {error.detail}", partial=clock.text
            )
            cut.status = error.status
            return cut
        return error

    def _counted_usage(self, request: ChatRequest, answer: str) -> Usage:
        prompt = sum(self._count(m.content) + 4 for m in request.messages)
        return Usage(prompt_tokens=prompt, completion_tokens=self._count(answer), source="counted")


def openai_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """`tool_choice` in the OpenAI wire format."""
    if isinstance(choice, str):
        return choice
    return {"type": "function", "function": {"name": choice.name}}


# Seconds an idle pooled connection is kept: below every server's own idle timeout we meet.
IDLE_EXPIRY_S = 2.0


def make_client(settings: HostedModelSettings, *, retries: int = 0) -> openai.AsyncOpenAI:
    timeout = httpx.Timeout(
        settings.total_timeout_s,
        connect=settings.connect_timeout_s,
        # A read that waits longer than this between bytes is a hung socket.
        read=settings.first_token_timeout_s,
    )
    key = settings.api_key.get_secret_value() if settings.api_key else "not-set"
    # openai 3.x runs on `httpx2` and converts an `httpx.Timeout` itself; 1.x takes it as is.
    return openai.AsyncOpenAI(
        api_key=key,
        base_url=settings.base_url,
        max_retries=retries,
        timeout=timeout,  # type: ignore[arg-type]
        http_client=openai.DefaultAsyncHttpxClient(limits=_pool_limits()),
    )


def _pool_limits() -> Any:
    """Idle connections are dropped well before a server drops them. The SDK keeps them 5 s,
    exactly as long as llama.cpp's server does, so a request sent at that moment went out on a
    connection the server was closing ("Connection error" before any byte; no retry layer may
    repeat a private turn). The SDK's client library is `httpx2` from openai 3 on."""
    client_http: Any
    try:
        client_http = importlib.import_module("httpx2")
    except ImportError:  # pragma: no cover - openai 1.x
        client_http = httpx
    return client_http.Limits(
        max_connections=1000, max_keepalive_connections=100, keepalive_expiry=IDLE_EXPIRY_S
    )


def translate_error(exc: openai.APIError) -> ModelError:
    """Map SDK errors onto our small vocabulary; keep the status for the audit trail."""
    if isinstance(exc, openai.APITimeoutError):
        return ModelTimeout(str(exc))
    if isinstance(exc, openai.APIConnectionError):
        return ModelUnavailable(f"connection failed: {exc}")
    if isinstance(exc, openai.RateLimitError):
        return ModelRateLimited(str(exc), retry_after=_retry_after(exc.response))
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelAuthError(str(exc), status=exc.status_code)
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return ModelUnavailable(f"server error {exc.status_code}", status=exc.status_code)
        return ModelError(f"request refused with {exc.status_code}", status=exc.status_code)
    if isinstance(exc, openai.APIResponseValidationError):
        return ModelBadResponse(str(exc))
    return ModelBadResponse(f"unexpected API error: {exc!r}")


# What can break a stream: our own errors, the deadline, the SDK, the transport, and
# unreadable chunks (json.JSONDecodeError is a ValueError; the others come from wrong shapes).
_STREAM_ERRORS = (
    TimeoutError, ModelError, openai.APIError, httpx.HTTPError,
    ValueError, AttributeError, TypeError, KeyError, IndexError,
)  # fmt: skip


def as_model_error(exc: BaseException) -> ModelError:
    """Any failure of a hosted stream, in our small vocabulary."""
    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, TimeoutError):
        return ModelTimeout("hosted model exceeded the total timeout")
    if isinstance(exc, openai.APIError):
        return translate_error(exc)
    # Raw transport errors (older SDKs let them through while streaming).
    if isinstance(exc, httpx.TimeoutException):
        return ModelTimeout(f"read timed out: {exc!r}")
    if isinstance(exc, httpx.TransportError):
        return ModelUnavailable(f"connection broke: {exc!r}")
    return ModelBadResponse(f"unreadable stream: {exc!r}")


def _require_event_stream(response: Any) -> None:
    """A streamed answer must be an event stream; a JSON body here is a broken endpoint or proxy."""
    raw = getattr(response, "response", None)
    content_type = str(raw.headers.get("content-type", "")) if raw is not None else "text/event-stream"
    if "text/event-stream" not in content_type:
        raise ModelBadResponse(f"expected an event stream, got {content_type or 'no content type'!r}")


def _retry_after(response: Any) -> float | None:
    """Seconds from a `Retry-After` header (httpx or httpx2 response), if it holds a number."""
    if response is None:
        return None
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None
