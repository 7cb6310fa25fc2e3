"""Scripted models for unit tests of logic (never for integration tests).

`FunctionModel(fn)` answers with whatever `fn(request)` returns; `QueueModel` answers from a
queue filled with `enqueue(...)` and records every request it was sent in `requests`, so tests
read like a script and can assert on exactly what a model saw. A reply may contain `ToolCall`s
(`call("calculator", expression="1+1")`): they stream as `ToolCallEvent`s after the text, and
the stream ends with finish reason "tool_calls", as a real tool-calling model's does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from models.base import (
    ChatMessage,
    ChatRequest,
    ModelKind,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from models.tokens import approximate_tokens

Reply = str | ToolCall | Iterable[str | ToolCall | BaseException] | BaseException
_call_ids = itertools.count(1)


def call(name: str, _raw: str | None = None, **arguments: Any) -> ToolCall:
    """A scripted tool call: keyword arguments as JSON, or `_raw` text exactly (e.g. broken JSON)."""
    text = _raw if _raw is not None else json.dumps(arguments)
    return ToolCall(id=f"call_{next(_call_ids)}", name=name, arguments=text)


class _ScriptedModel:
    def __init__(self, name: str, kind: ModelKind, context_window: int, delay_s: float) -> None:
        self._name = name
        self._kind = kind
        self._context_window = context_window
        self.delay_s = delay_s
        self.requests: list[ChatRequest] = []
        self.cancelled = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> ModelKind:
        return self._kind

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_tokens(self, text: str) -> int:
        return approximate_tokens(text)

    def _reply(self, request: ChatRequest) -> Reply:
        raise NotImplementedError

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        started = time.monotonic()
        reply = self._reply(request)
        if isinstance(reply, BaseException):
            raise reply
        parts = [reply] if isinstance(reply, str | ToolCall) else list(reply)
        sent: list[str] = []
        calls: list[ToolCall] = []
        ttft: float | None = None
        try:
            for part in parts:
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                if isinstance(part, BaseException):
                    raise part
                if isinstance(part, ToolCall):
                    calls.append(part)
                    continue
                ttft = ttft if ttft is not None else (time.monotonic() - started) * 1000
                sent.append(part)
                yield TextDelta(part)
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise
        for tool_call in calls:
            yield ToolCallEvent(tool_call)
        text = "".join(sent)
        prompt = sum(self.count_tokens(_message_text(m)) for m in request.messages)
        yield StreamEnd(
            model=self._name,
            kind=self._kind,
            usage=Usage(prompt_tokens=prompt, completion_tokens=self.count_tokens(text)),
            finish_reason="tool_calls" if calls else "stop",
            latency_ms=(time.monotonic() - started) * 1000,
            ttft_ms=ttft,
            text=text,
        )


class FunctionModel(_ScriptedModel):
    """Answers with `fn(request)`: a string, a list of stream pieces, or an exception to raise."""

    def __init__(
        self,
        fn: Callable[[ChatRequest], Reply],
        *,
        name: str = "function-model",
        kind: ModelKind = "local",
        context_window: int = 2048,
        delay_s: float = 0.0,
    ) -> None:
        super().__init__(name, kind, context_window, delay_s)
        self._fn = fn

    def _reply(self, request: ChatRequest) -> Reply:
        return self._fn(request)


class QueueModel(_ScriptedModel):
    """Answers from a queue of scripted replies; records every request in `requests`."""

    def __init__(
        self,
        *replies: Reply,
        name: str = "queue-model",
        kind: ModelKind = "local",
        context_window: int = 2048,
        delay_s: float = 0.0,
        default: Reply | None = None,
    ) -> None:
        super().__init__(name, kind, context_window, delay_s)
        self._queue: deque[Reply] = deque(replies)
        self._default = default

    def enqueue(self, *replies: Reply) -> QueueModel:
        self._queue.extend(replies)
        return self

    def _reply(self, request: ChatRequest) -> Reply:
        if self._queue:
            return self._queue.popleft()
        if self._default is not None:
            return self._default
        raise AssertionError(f"QueueModel {self._name!r} got an unscripted request: {request.messages[-1]}")

    def sent_text(self) -> str:
        """Everything this model was ever sent, for assertions that a value never reached it."""
        return "\n".join(_message_text(m) for r in self.requests for m in r.messages)


def _message_text(message: ChatMessage) -> str:
    """A message's content and the arguments of any tool calls it carries."""
    return message.content + "".join(f"\n{c.name}({c.arguments})" for c in message.tool_calls)


def scripted(answer: str, **kwargs: Any) -> FunctionModel:
    return FunctionModel(lambda _request: answer, **kwargs)
