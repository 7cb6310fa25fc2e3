"""The HTTP face of the API: authentication, limits, and the two OpenAI routes.

Order of checks for a completion: API key (401) → scope (403) → body size (413) → caller
tools (400) → body shape (422) → model (404) → answer cap (400, `limits`) → per-key rate limit
(429 + Retry-After) → per-key budget (429 `insufficient_quota`) → the prompt against the serving
models' context (400 `context_length_exceeded`, before the gate) → the pipeline, whose first check
is the owner's budget (the same 429). Other methods and paths under the prefix get 405/404 in the
OpenAI shape (`unmatched`), never the chat page. Database reads run off the event loop, so one
request's I/O never delays another's stream, and only where they are needed before the first
byte: a key verified in the last few seconds is not read again (`key_cache`: revocation still
takes effect within its TTL), and the owner's budget is read once, by the pipeline, not also here.
Each request leaves one `api_request` audit record naming the key and the outcome (the turn's
own records carry the key in their thread id) and one metric sample by key and status. Any
unexpected error is logged by type and answered 500 in the OpenAI shape, never a traceback.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.api import errors
from assistant.api.completions import (
    ApiBackend,
    Exchange,
    completion_object,
    conversation_for,
    error_for,
    receipt_headers,
)
from assistant.api.event_stream import EventStreamResponse
from assistant.api.key_cache import VerifiedKeys
from assistant.api.limits import answer_cap, decoded_body
from assistant.api.ratelimit import RateLimiter
from assistant.api.schema import (
    MODELS,
    TOOLS_REFUSED,
    ChatCompletionRequest,
    unserved_option,
    unsupported_tools,
)
from assistant.api.unmatched import unmatched_routes
from assistant.executors import run_interactive, run_io
from assistant.governance.api_keys import AuthorizedKey
from assistant.governance.audit import AuditEvent
from assistant.governance.component import Governance
from assistant.identity import Principal
from assistant.turns import TurnResult

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
BackendProvider = Callable[[], Awaitable[ApiBackend]]


@dataclass
class ApiContext:
    governance: Governance
    backend: BackendProvider
    limiter: RateLimiter
    requests: Counter
    keys: VerifiedKeys


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _authorize(context: ApiContext, request: Request, scope: str) -> AuthorizedKey:
    token = _bearer(request)
    # A key verified a moment ago needs no thread hop; any other is read from the database.
    key = context.keys.remembered(token) or await run_interactive(context.keys.authorize, token)
    if key is None:
        raise errors.unauthorized()
    if scope not in key.key.scopes:
        raise errors.forbidden(f"This API key does not have the {scope!r} scope.")
    return key


async def _body(request: Request) -> ChatCompletionRequest:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise errors.too_large(MAX_BODY_BYTES)
    raw = decoded_body(raw, request.headers.get("content-encoding", ""), MAX_BODY_BYTES)
    try:
        payload = json.loads(raw or b"null")
    except ValueError:
        raise errors.invalid("The request body is not valid JSON.") from None
    except RecursionError:  # was a 500: the parser's stack, not ours, ran out
        raise errors.invalid("The request body is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise errors.invalid("The request body must be a JSON object.")
    if (field := unsupported_tools(payload)) is not None:
        raise errors.unsupported(TOOLS_REFUSED, field)
    if (refusal := unserved_option(payload)) is not None:
        raise refusal
    try:
        return ChatCompletionRequest.model_validate(payload)
    except ValidationError as exc:
        raise errors.from_validation(exc) from None


async def _check_limits(context: ApiContext, key: AuthorizedKey) -> None:
    """The key's own limits. The owner's budget is the pipeline's first check (`error_for` turns
    its refusal into the same 429), so it is not read twice before the first byte."""
    wait = context.limiter.acquire(key.key.prefix, key.key.rate_per_minute)
    if wait > 0:
        raise errors.rate_limited(wait, f"Rate limit of {key.key.rate_per_minute} requests a minute reached.")
    if key.key.daily_tokens is None:
        return
    status = await run_io(context.governance.budgets.check, Principal(user_id=key.budget_id))
    if status.tokens_used >= key.key.daily_tokens:
        raise errors.rate_limited(3600, "This API key's daily token budget is used up.", "insufficient_quota")


def _audit(context: ApiContext, key: AuthorizedKey | None, status: int, detail: str) -> None:
    name = key.key.prefix if key is not None else "none"
    context.requests.labels(key=name, status=str(status)).inc()
    if key is None:
        return  # unauthenticated noise is counted, not written to the chain
    try:
        context.governance.audit.record(
            AuditEvent(
                kind="api_request",
                outcome="ok" if status < 400 else "error",
                user_id=key.principal.user_id,
                detail=f"key={key.key.prefix} status={status} {detail}"[:500],
            )
        )
    except Exception:
        log.exception("could not record the API request in the audit trail")


async def chat_completions(context: ApiContext, request: Request) -> Response:
    key: AuthorizedKey | None = None
    try:
        key = await _authorize(context, request, "chat")
        body = await _body(request)
        if body.model not in MODELS:
            raise errors.model_not_found(body.model, list(MODELS))
        if body.confidante.use_documents and "knowledge" not in key.key.scopes:
            raise errors.forbidden("Grounding in documents needs the 'knowledge' scope.")
        answer_cap(body)  # a cap below 1 is a 400 before any limit is spent
        await _check_limits(context, key)
        return await _answer(context, key, body)
    except errors.ApiError as exc:
        await run_io(_audit, context, key, exc.status, exc.code or exc.type)
        return exc.response()
    except Exception as exc:
        log.error("API request failed (%s)", type(exc).__name__)
        await run_io(_audit, context, key, 500, type(exc).__name__)
        return errors.ApiError(500, "Something went wrong on our side.", type="server_error").response()


async def _answer(context: ApiContext, key: AuthorizedKey, body: ChatCompletionRequest) -> Response:
    backend = await context.backend()
    if backend.window is not None:  # an over-long prompt is refused before the gate reads it
        await backend.window.check(body, answer_cap(body))
    if len(body.messages) > 1:  # history to assess: the gate is CPU-bound, keep it off the loop
        conversation = await run_interactive(conversation_for, body, key, backend.privacy)
    else:
        conversation = conversation_for(body, key, backend.privacy)
    events = backend.pipeline.run(conversation, body.messages[-1].text())
    exchange = Exchange(body, events, f"chatcmpl-{uuid.uuid4().hex}")
    sources = body.confidante.use_documents
    if not body.stream:
        if (failure := await exchange.opening()) is not None:
            raise failure
        result = await exchange.collect()
        if (failure := error_for(result)) is not None:
            raise failure
        await run_io(_settle_answer, context, key, result)
        payload = completion_object(exchange.completion_id, body.model, result, sources=sources)
        return JSONResponse(payload, headers=receipt_headers(result))
    settle = _Settlement(context, key, exchange)

    async def refused(failure: errors.ApiError) -> None:
        await run_io(_audit, context, key, failure.status, failure.code or failure.type)

    # The turn runs up to its first answer inside the response, which sends the headers once a
    # model accepted the request (`event_stream`).
    return EventStreamResponse(
        _streamed(settle, sources),
        opening=exchange,
        refused=refused,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(settle.after_response),
    )


@dataclass
class _Settlement:
    """Charging the key and the `api_request` record of one stream, written exactly once.

    A stream that ends normally is settled after its last byte is sent (a background task, off the
    event loop), so the client's stream ends without waiting for two database commits; one that
    was cut (a disconnect, an error) is settled right there, since no background task follows."""

    context: ApiContext
    key: AuthorizedKey
    exchange: Exchange
    started: float = field(default_factory=time.perf_counter)
    completed: bool = False
    done: bool = False

    def settle(self) -> None:
        if self.done:
            return
        self.done = True
        result = self.exchange.result
        _charge_key(self.context, self.key, result.usage.total_tokens if result is not None else 0)
        if self.exchange.failure is not None:
            ended = "server error"
        elif self.exchange.disconnected or result is None:
            ended = "client disconnected"
        else:
            ended = f"outcome={result.outcome} tier={result.receipt.tier.value}"
        _audit(self.context, self.key, 200, f"stream {ended} {time.perf_counter() - self.started:.1f}s")

    async def after_response(self) -> None:
        await run_io(self.settle)


async def _streamed(settle: _Settlement, sources: bool) -> AsyncIterator[bytes]:
    try:
        async for piece in settle.exchange.stream(sources=sources):
            yield piece
        settle.completed = True
    finally:
        if not settle.completed:
            settle.settle()


def _settle_answer(context: ApiContext, key: AuthorizedKey, result: TurnResult) -> None:
    """A whole (not streamed) answer is charged and recorded before it is sent, so the client's
    next request already meets the charge (in a thread: two commits never block other streams)."""
    _charge_key(context, key, result.usage.total_tokens)
    _audit(context, key, 200, f"outcome={result.outcome} tier={result.receipt.tier.value}")


def _charge_key(context: ApiContext, key: AuthorizedKey, tokens: int) -> None:
    if tokens > 0:
        context.governance.budgets.charge(Principal(user_id=key.budget_id), tokens=tokens, cost_usd=0.0)


async def list_models(context: ApiContext, request: Request) -> Response:
    try:
        key = await _authorize(context, request, "chat")
    except errors.ApiError as exc:
        _audit(context, None, exc.status, "models")
        return exc.response()
    created = int(time.time())
    data = [_model_object(name, created) for name in MODELS]
    context.requests.labels(key=key.key.prefix, status="200").inc()
    return JSONResponse({"object": "list", "data": data})


async def retrieve_model(context: ApiContext, request: Request) -> Response:
    """`GET /v1/models/{model}` (the SDK's `models.retrieve`): a model named in `list_models`, or
    404 `model_not_found` as for a completion. It was 404 `unknown_url`, as for a path never served."""
    try:
        key = await _authorize(context, request, "chat")
        name = request.path_params["model"]
        if name not in MODELS:
            raise errors.model_not_found(name, list(MODELS))
    except errors.ApiError as exc:
        _audit(context, None, exc.status, "models")  # counted, as for the list
        return exc.response()
    context.requests.labels(key=key.key.prefix, status="200").inc()
    return JSONResponse(_model_object(name, int(time.time())))


def _model_object(name: str, created: int) -> dict[str, object]:
    return {"id": name, "object": "model", "created": created, "owned_by": "confidante"}


def api_routes(governance: Governance, backend: BackendProvider, *, prefix: str = "/v1") -> list[BaseRoute]:
    context = ApiContext(
        governance=governance,
        backend=backend,
        limiter=RateLimiter(),
        requests=Counter(
            "confidante_api_requests", "API requests by key and status", ["key", "status"],
            registry=governance.telemetry.registry,
        ),
        keys=VerifiedKeys(governance.api_keys.authorize),
    )  # fmt: skip

    async def completions_endpoint(request: Request) -> Response:
        return await chat_completions(context, request)

    async def models_endpoint(request: Request) -> Response:
        return await list_models(context, request)

    async def model_endpoint(request: Request) -> Response:
        return await retrieve_model(context, request)

    served = {
        f"{prefix}/chat/completions": ["POST"],
        f"{prefix}/models": ["GET"],
        f"{prefix}/models/{{model}}": ["GET"],
    }
    return [
        Route(f"{prefix}/chat/completions", completions_endpoint, methods=["POST"]),
        Route(f"{prefix}/models", models_endpoint, methods=["GET"]),
        Route(f"{prefix}/models/{{model}}", model_endpoint, methods=["GET"]),
        *unmatched_routes(prefix, served),  # 405/404 in the OpenAI shape, not the chat page
    ]


def api_app(governance: Governance, backend: BackendProvider, *, prefix: str = "/v1") -> ASGIApp:
    """The API's own ASGI app: its routes, and OpenAI-shaped 404/405 for anything else under `prefix`."""
    return Router(routes=api_routes(governance, backend, prefix=prefix))


class ApiFirst:
    """Pure ASGI: requests under the API's prefix go straight to the API's app, all others on to
    Chainlit's. The API serves machines holding keys: it needs none of the chat's middleware
    (sessions and the requester, compression, Chainlit's router), and passing through them, twice
    (the request in, the response's start out), was ~0.3 ms of every streamed answer's first
    token (issue 15). The caller wraps the API's app in what it does need (CORS, headers)."""

    def __init__(self, app: ASGIApp, *, api: ASGIApp, prefix: str = "/v1") -> None:
        self.app, self.api, self.prefix = app, api, prefix
        self._under = prefix.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == self.prefix or path.startswith(self._under):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def mount_api(app: Any, api: ASGIApp, *, prefix: str = "/v1") -> None:
    """Serve `api` ahead of everything else on Chainlit's `app`. Call last, before the server
    starts: the middleware added last is the outermost."""
    app.add_middleware(ApiFirst, api=api, prefix=prefix)
