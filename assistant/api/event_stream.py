"""The response to a streamed completion: its headers leave when a model has accepted the
request, its first piece with them if it is ready, and a refusal before then is an HTTP error.

A proxy sends its response headers once the upstream answered 200, and the client reads them
while the model works. This response runs the turn up to its first answer inside its own
`__call__`, where it can send; the model adapters call `models.base.stream_accepted` once a model
took the request, and the headers go out then. Until then nothing is sent, so a refusal the turn
decides first (the owner's budget, the private model's queue full, every model failing) is the
status an SDK acts on (429, 503). After the headers, a refusal can only be sent in the stream, as
OpenAI sends one: an `error` event, which the official SDK raises as an `APIError`.

Starlette streams from a new task beside a disconnect listener (for servers speaking ASGI before
2.4, uvicorn among them); the headers and the first piece leave from the request's own task, and
only the rest streams that way, with the same listener, so a client that goes away still stops
the turn. Both were on the first token's path (issue 15): the headers ~0.6 ms (the client read
them before the first piece), the task hop ~0.1 ms.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from assistant.api.errors import ApiError
from models.base import STREAM_ACCEPTED


class Opening(Protocol):
    async def opening(self) -> ApiError | None:
        """Run the turn up to its first answer; the refusal to answer with, if it is one."""
        ...


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        opening: Opening,
        refused: Callable[[ApiError], Awaitable[None]],
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, media_type=self.media_type, headers=headers, background=background)
        self._pieces = content
        self._opening = opening
        self._refused = refused
        self._started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return

        async def accepted() -> None:
            if not self._started:
                await self._start(send)

        token = STREAM_ACCEPTED.set(accepted)
        try:
            refusal = await self._opening.opening()
        finally:
            STREAM_ACCEPTED.reset(token)
        if refusal is not None and not self._started:
            await self._refused(refusal)  # recorded as the error it is; no stream, no charge
            await refusal.response()(scope, receive, send)
            return
        first = await anext(self._pieces, None)
        if not self._started:
            await self._start(send)
        if first is not None:
            await send({"type": "http.response.body", "body": first, "more_body": True})
        await super().__call__(scope, receive, send)

    async def stream_response(self, send: Send) -> None:
        if not self._started:
            await self._start(send)
        async for piece in self._pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _start(self, send: Send) -> None:
        self._started = True
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
