"""Errors in the OpenAI error shape, so official SDKs raise their usual exception classes.

Every failure the API can answer with is an `ApiError` carrying status, a plain message, the
OpenAI `type`/`code` vocabulary and optional headers (`Retry-After`); nothing else reaches the
client, and never a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError
from starlette.responses import JSONResponse


@dataclass
class ApiError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def unauthorized(message: str = "Invalid, revoked or expired API key.") -> ApiError:
    return ApiError(401, message, type="authentication_error", code="invalid_api_key")


def forbidden(message: str) -> ApiError:
    return ApiError(403, message, type="permission_error", code="insufficient_scope")


def model_not_found(model: str, known: list[str]) -> ApiError:
    return ApiError(
        404, f"The model {model!r} does not exist here; use one of: {', '.join(known)}.",
        type="invalid_request_error", code="model_not_found", param="model",
    )  # fmt: skip


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is larger than {limit} bytes.", code="request_too_large")


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(422, message, code="invalid_request", param=param)


def rate_limited(retry_after_s: float, message: str, code: str = "rate_limit_exceeded") -> ApiError:
    seconds = max(1, round(retry_after_s + 0.49))
    headers = {"Retry-After": str(seconds)}
    if code == "insufficient_quota":
        # A budget used up for the day: the SDKs retry a 429 (twice by default, ignoring a
        # Retry-After over a minute), each retry refused again and spending a rate-limit slot.
        # OpenAI's own header tells them not to.
        headers["x-should-retry"] = "false"
    return ApiError(429, message, type="rate_limit_error", code=code, headers=headers)


def unavailable(message: str) -> ApiError:
    return ApiError(503, message, type="server_error", code="service_unavailable")


def unsupported(message: str, param: str) -> ApiError:
    """A field the API understands and deliberately does not serve (OpenAI answers these 400)."""
    return ApiError(400, message, code="unsupported_parameter", param=param)


def unsupported_encoding(encoding: str) -> ApiError:
    return ApiError(
        415, f"Content-Encoding {encoding!r} is not supported; send the body plain, gzip or deflate.",
        code="unsupported_content_encoding", param=None,
    )  # fmt: skip


# The parts of a pydantic error location that name a field or an index; the others are the tags
# of a union's members (`str`, `list[ContentPart]`), which mean nothing to an OpenAI client.
_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "dict"}


def from_validation(exc: ValidationError) -> ApiError:
    """The 422 for a body that does not have the request's shape, naming the first bad field as
    OpenAI names it (`messages.0.content`)."""
    first = exc.errors(include_url=False)[0]
    parts = [
        str(part) for part in first["loc"]
        if isinstance(part, int) or (_FIELD.fullmatch(part) and part not in _TYPE_TAGS)
    ]  # fmt: skip
    where = ".".join(parts) or None
    message = str(first["msg"]).removeprefix("Value error, ")
    return invalid(f"{where or 'body'}: {message}", param=where)
