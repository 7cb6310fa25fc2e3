"""Structured outputs: ask a model for JSON, validate it with pydantic, re-ask with the error.

Wherever the pipeline wants JSON from a model (query rewriting, summary maps, tool arguments) it
calls `ask_structured`. The reply may be wrapped in ```json fences or preceded by prose: the first
JSON object is extracted. A reply that does not validate is answered with the validation error and
asked again, a bounded number of times; then the call either degrades to a caller-provided default
or raises `StructuredOutputError` carrying every attempt. Successes and failures are counted in a
`StructuredStats` that the metrics expose. This module never picks a model or changes the privacy
of a request: it only appends messages to the request it was given.
"""

from __future__ import annotations

import json
import threading
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from models.base import ChatMessage, ChatModel, ChatRequest, ModelError, Usage, collect

T = TypeVar("T", bound=BaseModel)

_INSTRUCTION = "Reply with one JSON object only, no prose, that matches this JSON schema:\n{schema}"
_REASK = "That reply was not valid: {error}\nReply again with only the corrected JSON object."
_MAX_ERROR_CHARS = 600


class StructuredAttempt(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    raw: str
    error: str | None = None
    # Tokens this attempt cost: every re-ask is a paid model call and is charged like one.
    usage: Usage = Usage()


def attempts_usage(attempts: tuple[StructuredAttempt, ...]) -> Usage:
    """The tokens of all attempts of one structured call, added up."""
    return Usage(
        prompt_tokens=sum(a.usage.prompt_tokens for a in attempts),
        completion_tokens=sum(a.usage.completion_tokens for a in attempts),
        source="server" if attempts and all(a.usage.source == "server" for a in attempts) else "counted",
    )


class StructuredResult(BaseModel, Generic[T]):
    model_config = ConfigDict(frozen=True)

    value: T
    attempts: tuple[StructuredAttempt, ...]
    # True when validation failed every time and `value` is the caller's default.
    degraded: bool = False


class StructuredOutputError(ModelError):
    """The model never produced valid JSON for the schema; `attempts` holds each raw reply."""

    user_message = "The model could not produce a well-formed answer for this step."

    def __init__(self, detail: str, *, attempts: tuple[StructuredAttempt, ...]) -> None:
        super().__init__(detail)
        self.attempts = attempts


class StructuredStats:
    """Validation outcomes, counted per call (thread safe); read by the metrics endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first_try = 0
        self.after_reask = 0
        self.failed = 0
        self.degraded = 0
        self.attempts = 0
        self.invalid_attempts = 0

    def record(self, attempts: tuple[StructuredAttempt, ...], *, ok: bool, degraded: bool) -> None:
        with self._lock:
            self.attempts += len(attempts)
            self.invalid_attempts += sum(1 for a in attempts if a.error is not None)
            if ok:
                if len(attempts) == 1:
                    self.first_try += 1
                else:
                    self.after_reask += 1
            else:
                self.failed += 1
                self.degraded += int(degraded)

    @property
    def calls(self) -> int:
        return self.first_try + self.after_reask + self.failed

    @property
    def success_rate(self) -> float | None:
        """Share of calls that ended with a validated value (None before any call)."""
        calls = self.calls
        return None if calls == 0 else (self.first_try + self.after_reask) / calls


def extract_json_object(text: str) -> str | None:
    """The first complete top-level JSON object in `text` (fences and prose around it ignored)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return text[start:end]
        start = text.find("{", end)
    return None


def _validate(raw: str, schema: type[T]) -> tuple[T | None, str | None]:
    candidate = extract_json_object(raw)
    if candidate is None:
        return None, "no JSON object found in the reply"
    try:
        return schema.model_validate_json(candidate), None
    except ValidationError as exc:
        return None, _describe(exc)


def _describe(exc: ValidationError) -> str:
    lines = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()]
    return "; ".join(lines)[:_MAX_ERROR_CHARS]


def _first_request(request: ChatRequest, schema: type[BaseModel]) -> ChatRequest:
    instruction = _INSTRUCTION.format(schema=json.dumps(schema.model_json_schema(), separators=(",", ":")))
    messages = list(request.messages)
    if messages and messages[0].role == "system":
        messages[0] = ChatMessage(role="system", content=f"{messages[0].content}\n\n{instruction}")
    else:
        messages.insert(0, ChatMessage(role="system", content=instruction))
    return request.model_copy(update={"messages": tuple(messages), "json_mode": True})


def _reask(request: ChatRequest, raw: str, error: str) -> ChatRequest:
    extra = (
        ChatMessage(role="assistant", content=raw),
        ChatMessage(role="user", content=_REASK.format(error=error)),
    )
    return request.model_copy(update={"messages": (*request.messages, *extra)})


async def ask_structured(
    model: ChatModel,
    request: ChatRequest,
    schema: type[T],
    *,
    max_reasks: int = 2,
    default: T | None = None,
    stats: StructuredStats | None = None,
) -> StructuredResult[T]:
    """Ask `model` for a `schema` object; re-ask up to `max_reasks` times with the validation error.

    Model failures (`ModelError`) propagate unchanged: they are not validation problems.
    """
    current = _first_request(request, schema)
    attempts: list[StructuredAttempt] = []
    for number in range(1, max_reasks + 2):
        end = await collect(model.stream(current))
        raw = end.text
        value, error = _validate(raw, schema)
        attempts.append(StructuredAttempt(number=number, raw=raw, error=error, usage=end.usage))
        if value is not None:
            if stats is not None:
                stats.record(tuple(attempts), ok=True, degraded=False)
            return StructuredResult[T](value=value, attempts=tuple(attempts))
        current = _reask(current, raw, error or "invalid")
    done = tuple(attempts)
    if stats is not None:
        stats.record(done, ok=False, degraded=default is not None)
    if default is not None:
        return StructuredResult[T](value=default, attempts=done, degraded=True)
    raise StructuredOutputError(
        f"no valid {schema.__name__} after {len(done)} attempts: {done[-1].error}", attempts=done
    )
