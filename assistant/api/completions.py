"""One API request through the chat pipeline, and its answer in the OpenAI wire format.

The request becomes a conversation of its own (id `api-<key prefix>-<random>`, so every audit
record of the turn names the key) owned by the key's account. Every message before the last is
history: each passes the gate and taints the turn exactly as a resumed chat's history does, so a
regulated value anywhere in the request keeps the whole turn local. `confidante-local` marks the
turn regulated on request, which the policy can only route to the local model. The privacy
receipt goes back in the extension field `confidante` (and in `X-Confidante-*` headers).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.api.errors import ApiError, rate_limited, unavailable
from assistant.api.limits import PromptWindow, answer_cap
from assistant.api.schema import MODEL_LOCAL, ChatCompletionRequest
from assistant.governance.api_keys import AuthorizedKey
from assistant.turns import AnswerDelta, Conversation, TurnEvent, TurnResult
from routing.tiers import Tier, highest

log = logging.getLogger(__name__)

LOCAL_REASON = "the confidante-local model was asked for"


class TurnRunner(Protocol):
    def run(self, conversation: Conversation, text: str) -> AsyncIterator[TurnEvent]: ...


class Assessor(Protocol):
    def assess(self, text: str, *, source: str) -> Any: ...


@dataclass(frozen=True)
class ApiBackend:
    """What the API needs from the application's services."""

    pipeline: TurnRunner
    privacy: Assessor
    # The context windows an over-long prompt is checked against (None: no check, e.g. fakes).
    window: PromptWindow | None = None


def conversation_for(request: ChatCompletionRequest, key: AuthorizedKey, privacy: Assessor) -> Conversation:
    """A fresh conversation holding the request's history, tainted by every message in it."""
    conversation = Conversation(id=f"api-{key.key.prefix}-{uuid.uuid4().hex[:16]}", principal=key.principal)
    conversation.use_documents = request.confidante.use_documents
    conversation.answer_cap = answer_cap(request)
    conversation.history = [message.as_chat_message() for message in request.messages[:-1]]
    tiers = [privacy.assess(m.content, source="history").tier for m in conversation.history]
    conversation.tier = highest(Tier.PUBLIC, *tiers)
    if conversation.tier is not Tier.PUBLIC:
        conversation.tainted_by.append("history")
    if request.model == MODEL_LOCAL:
        conversation.tier = Tier.REGULATED
        conversation.tainted_by.append(LOCAL_REASON)
    return conversation


def error_for(result: TurnResult) -> ApiError | None:
    """Outcomes that are not an answer become the OpenAI error a client can act on."""
    if result.outcome == "over_budget":
        return rate_limited(3600, result.answer, code="insufficient_quota")
    if result.outcome == "busy":
        return rate_limited(10, result.answer, code="model_busy")
    if result.outcome == "error" and not result.model:
        return unavailable(result.answer or "No model could answer; try again later.")
    return None


def receipt(result: TurnResult, include_sources: bool) -> dict[str, Any]:
    """The privacy receipt for machines: never a detected value, only types and counts."""
    body: dict[str, Any] = {
        "tier": result.receipt.tier.value,
        "route": result.route,
        "model": result.model,
        "rule": result.receipt.rule,
        "policy_version": result.receipt.policy_version,
        "entities": dict(result.receipt.entity_counts),
        "pseudonymized": dict(result.receipt.pseudonymized),
        "tainted_by": list(result.receipt.tainted_by),
        "outcome": result.outcome,
        "notices": list(result.notices),
    }
    if result.confidence is not None:
        body["confidence"] = result.confidence.model_dump()
    if result.timing is not None:
        # Where the turn's time went ("gate", "retrieval", "attempt"...): a client (and
        # bench/bench_api.py) can tell the gate's own time from the gateway's overhead.
        body["ms_by_phase"] = result.timing.ms_by_phase()
    if include_sources:
        body["sources"] = [
            {k: v for k, v in s.model_dump(mode="json").items() if k not in ("passage",)}
            for s in result.sources
        ]
    return body


def receipt_headers(result: TurnResult) -> dict[str, str]:
    return {
        "X-Confidante-Tier": result.receipt.tier.value,
        "X-Confidante-Route": result.route,
        "X-Confidante-Model": result.model or "none",
        "X-Confidante-Rule": result.receipt.rule,
        "X-Confidante-Pseudonymized": str(sum(result.receipt.pseudonymized.values())),
    }


def _usage(result: TurnResult) -> dict[str, int]:
    usage = result.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _finish_reason(result: TurnResult) -> str:
    return "length" if result.finish_reason in ("cut_off", "length") else "stop"


def completion_object(completion_id: str, model: str, result: TurnResult, *, sources: bool) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer},
                "finish_reason": _finish_reason(result),
            }
        ],
        "usage": _usage(result),
        "confidante": receipt(result, sources),
    }


def chunk_object(
    completion_id: str,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    *,
    created: int,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


@dataclass
class Exchange:
    """One request's run: its events, and how it ended (for the audit record and metrics)."""

    request: ChatCompletionRequest
    events: AsyncIterator[TurnEvent]
    completion_id: str
    result: TurnResult | None = None
    disconnected: bool = False
    # One `created` for every chunk of the stream, as OpenAI sends it (it was each chunk's second).
    created: int = field(default_factory=lambda: int(time.time()))
    # Events read before the answer began (by `opening`), sent ahead of the rest.
    held: list[TurnEvent] = field(default_factory=list)
    # The turn broke with an unexpected error (logged by type): answered as a server error.
    failure: ApiError | None = None
    # A whole answer waiting for the result right behind it (shown, or sent as the error it is).
    _whole: AnswerDelta | None = None

    async def opening(self) -> ApiError | None:
        """Read up to the first event that decides what the client gets, and return the refusal
        to answer with if the turn is one (busy, over budget, no model answered), else None.

        Stops at the first answer text or the turn's result. Notices before it are held (they
        render as nothing; the receipt lists them). A whole answer Confidante wrote (a refusal,
        the busy or failure sentence) has the turn's result right behind it: that is read too, so
        a refusal streamed or not is the same HTTP error, never a 200 carrying the sentence."""
        try:
            async for event in self.events:
                self.held.append(event)
                if isinstance(event, TurnResult):
                    self.result = event
                    break
                if isinstance(event, AnswerDelta) and not event.whole:
                    break
        except Exception as exc:
            log.error("API request failed (%s)", type(exc).__name__)
            self.failure = ApiError(500, "Something went wrong on our side.", type="server_error")
            return self.failure
        return error_for(self.result) if self.result is not None else None

    async def collect(self) -> TurnResult:
        """Drain the turn for a non-streaming answer."""
        if self.result is not None:
            return self.result
        async for event in self.events:
            if isinstance(event, TurnResult):
                self.result = event
        if self.result is None:
            raise unavailable("The answer ended without a result; try again.")
        return self.result

    async def stream(self, *, sources: bool) -> AsyncIterator[bytes]:
        """SSE chunks: the role, each delta, then the finish chunk carrying the receipt; or, for a
        turn refused after the headers left, an `error` event as OpenAI streams one."""
        role = sse(self._chunk({"role": "assistant", "content": ""}))
        try:
            # The role chunk goes out with the first answer text in one body message: one trip
            # through the ASGI middlewares and one socket write before the first word, not two.
            yield role + b"".join(piece for event in self.held for piece in self._render(event))
            if self.failure is None:
                async for event in self.events:
                    for piece in self._render(event):
                        yield piece
        except asyncio.CancelledError:
            self.disconnected = True  # the client went away: the pipeline stops the model
            raise
        except Exception as exc:
            # After the headers: an `error` event and [DONE], not a cut connection the SDK
            # reports as a broken transfer (logged by type only, as every unexpected error).
            log.error("API stream failed (%s)", type(exc).__name__)
            self.failure = ApiError(500, "Something went wrong on our side.", type="server_error")
        if self.failure is None and self.result is None:
            self.failure = unavailable("The answer ended without a result; try again.")
        refusal = self.failure or (error_for(self.result) if self.result is not None else None)
        if refusal is not None:
            yield sse(refusal.body())
        elif self.result is not None:
            finish = self._chunk({}, _finish_reason(self.result))
            finish["confidante"] = receipt(self.result, sources)
            yield sse(finish)
            if self.request.include_usage:
                usage = self._chunk({})
                usage["choices"] = []
                usage["usage"] = _usage(self.result)
                yield sse(usage)
        yield sse("[DONE]")

    def _render(self, event: TurnEvent) -> list[bytes]:
        if isinstance(event, AnswerDelta) and event.whole:
            self._whole = event  # its result comes next: shown, or sent as the error it is
            return []
        if isinstance(event, AnswerDelta) and event.text:
            return [self._text(event.text)]
        if isinstance(event, TurnResult):
            self.result = event
            whole, self._whole = self._whole, None
            if whole is not None and whole.text and error_for(event) is None:
                return [self._text(whole.text)]
        return []  # notices are in the receipt at the end

    def _text(self, text: str) -> bytes:
        return sse(self._chunk({"content": text}))

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return chunk_object(self.completion_id, self.request.model, delta, finish, created=self.created)
