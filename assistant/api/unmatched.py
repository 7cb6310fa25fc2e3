"""Answers for API paths and methods the API does not serve: OpenAI-shaped, never the chat page.

Without these, Chainlit's catch-all route answered `GET /v1/chat/completions` and any unknown
`/v1/...` path with the chat page's HTML and 200, which an SDK reads as a garbled success. A
served path asked with another method gets 405 with an `Allow` header; any other path under the
prefix gets 404. Both answer without reading the body or the key: they say nothing about either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from assistant.api.errors import ApiError

# Starlette gives a function endpoint GET alone unless told: these must answer every method.
EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def method_not_allowed(path: str, allowed: Sequence[str]) -> ApiError:
    return ApiError(
        405, f"Method not allowed on {path}; use {', '.join(allowed)}.",
        code="method_not_allowed", headers={"Allow": ", ".join(allowed)},
    )  # fmt: skip


def unknown_path(path: str) -> ApiError:
    return ApiError(404, f"Unknown API path {path}.", code="unknown_url")


def unmatched_routes(prefix: str, served: Mapping[str, Sequence[str]]) -> list[BaseRoute]:
    """Routes to place after the served ones (`served`: path → its methods), before Chainlit's."""

    def not_allowed_for(path: str, allowed: Sequence[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return method_not_allowed(request.url.path, allowed).response()

        return Route(path, endpoint, methods=EVERY_METHOD)  # the allowed ones matched a route before

    async def not_found(request: Request) -> Response:
        return unknown_path(request.url.path).response()

    return [
        *(not_allowed_for(path, allowed) for path, allowed in served.items()),
        Route(prefix, not_found, methods=EVERY_METHOD),
        Route(f"{prefix}/{{rest:path}}", not_found, methods=EVERY_METHOD),
    ]
