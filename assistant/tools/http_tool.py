"""An admin-declared HTTP tool: one request to a company API per call, with httpx.

Arguments fill the URL template's placeholders (each URL-encoded, so a value can never change
the path or add a query), the rest go to the query string (GET, DELETE) or a JSON body. Secret
headers come from the environment, resolved once when the catalog is loaded. The destination is
"external", so the loop gates every argument before this tool sees it, and nothing here restores
pseudonyms. Proxy variables of the environment are ignored (the request goes where the file
says), redirects are not followed (they would carry the headers elsewhere), the response is
read only up to its byte cap, and every failure is a `ToolResult(is_error=True)` with a short
message that never includes a header, a secret or a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr

from assistant.tools.base import ToolContext, ToolResult, ToolSpec
from assistant.tools.catalog import HttpToolDeclaration, url_placeholders
from assistant.tools.catalog_schema import model_from_schema

log = logging.getLogger(__name__)
ERROR_BODY_CHARS = 300


def http_spec(declaration: HttpToolDeclaration) -> ToolSpec:
    side_effects = declaration.side_effects
    idempotent = declaration.idempotent
    return ToolSpec(
        name=declaration.name,
        description=declaration.description,
        arguments=model_from_schema(declaration.name, declaration.arguments),
        destination="external",
        side_effects=(not declaration.reads_only) if side_effects is None else side_effects,
        idempotent=(declaration.method in ("GET", "PUT", "DELETE")) if idempotent is None else idempotent,
        timeout_s=declaration.timeout_s,
        groups=declaration.groups,
        max_argument_tier=declaration.max_argument_tier,
        result_tier=declaration.result_tier,
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )


def render_url(template: str, values: Mapping[str, Any]) -> str:
    """The template with every placeholder replaced by its URL-encoded value (`/` included)."""
    return template.format_map(
        {name: quote(_text(values[name]), safe="") for name in url_placeholders(template)}
    )


async def read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """At most `cap` bytes of the body, and whether there was more (the rest is never read)."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            return bytes(body[:cap]), True
    return bytes(body), False


class HttpTool:
    def __init__(
        self,
        declaration: HttpToolDeclaration,
        *,
        headers: Mapping[str, SecretStr],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._declaration = declaration
        self._headers = dict(headers)
        self._transport = transport
        self._spec = http_spec(declaration)

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    def _request(self, arguments: BaseModel) -> tuple[str, dict[str, Any]]:
        values = arguments.model_dump(exclude_none=True)
        url = render_url(self._declaration.url, values)
        rest = {k: v for k, v in values.items() if k not in set(url_placeholders(self._declaration.url))}
        if self._declaration.method in ("GET", "DELETE"):
            # A list argument becomes a repeated parameter (?tag=a&tag=b), the common convention.
            params = [
                (k, _text(item)) for k, v in rest.items() for item in (v if isinstance(v, list) else [v])
            ]
            return url, {"params": params}
        return url, {"json": rest}

    async def run(self, arguments: BaseModel, context: ToolContext) -> ToolResult:
        name, cap = self.spec.name, self._declaration.max_response_bytes
        url, payload = self._request(arguments)
        headers = {key: value.get_secret_value() for key, value in self._headers.items()}
        try:
            async with (
                httpx.AsyncClient(
                    timeout=self.spec.timeout_s,
                    follow_redirects=False,
                    trust_env=False,
                    transport=self._transport,
                ) as client,
                client.stream(self._declaration.method, url, headers=headers, **payload) as response,
            ):
                body, truncated = await read_capped(response, cap)
        except httpx.TimeoutException:
            return ToolResult(
                content=f"{name} did not answer within {self.spec.timeout_s:g} s", is_error=True
            )
        except httpx.HTTPError as exc:
            log.warning("http tool %s failed: %s", name, type(exc).__name__)
            return ToolResult(content=f"{name} could not be reached", is_error=True)
        return _result(name, response, body, truncated, cap)


def _result(name: str, response: httpx.Response, body: bytes, truncated: bool, cap: int) -> ToolResult:
    text = body.decode(response.encoding or "utf-8", errors="replace")
    status = response.status_code
    if response.is_redirect:
        return ToolResult(
            content=f"{name} answered with a redirect (HTTP {status}), not followed", is_error=True
        )
    if not response.is_success:
        detail = " ".join(text.split())[:ERROR_BODY_CHARS]
        return ToolResult(content=f"{name} answered HTTP {status}: {detail}".rstrip(": "), is_error=True)
    data: dict[str, Any] = {"status": status, "truncated": truncated}
    if not truncated and "json" in response.headers.get("content-type", ""):
        with contextlib.suppress(ValueError):
            data["json"] = json.loads(text)
    note = f"\n[… response cut at {cap} bytes]" if truncated else ""
    return ToolResult(content=text + note, data=data)
