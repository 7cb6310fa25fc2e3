"""HTTP tools against a real HTTP server on loopback: what leaves Confidante, and what comes back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from assistant.tools.base import ToolContext
from assistant.tools.catalog import CatalogError, HttpToolDeclaration, resolve_headers
from assistant.tools.http_tool import HttpTool, render_url
from knowledge.access import Principal
from tests.support.servers import free_port
from tests.support.tool_server import ToolServer, running_tool_server

CONTEXT = ToolContext(principal=Principal(user_id="alice", groups=frozenset({"finance"})))
RATES_SCHEMA = {
    "type": "object",
    "required": ["currency"],
    "properties": {"currency": {"type": "string"}, "date": {"type": "string"}},
}


@pytest.fixture(scope="module")
def server() -> Iterator[ToolServer]:
    with running_tool_server() as state:
        yield state


def _tool(server: ToolServer, path: str, env: dict[str, str] | None = None, **fields: Any) -> HttpTool:
    fields.setdefault("arguments", RATES_SCHEMA if "{currency}" in path else {"type": "object"})
    declaration = HttpToolDeclaration(name="t", description="d", url=server.base_url + path, **fields)
    return HttpTool(declaration, headers=resolve_headers(declaration, env or {}))


async def _call(tool: HttpTool, **arguments: Any):
    return await tool.run(tool.spec.arguments(**arguments), CONTEXT)


async def test_get_fills_the_url_encodes_values_and_sends_the_secret_header(server: ToolServer) -> None:
    tool = _tool(
        server,
        "/rates/{currency}",
        env={"RATES_TOKEN": "s3cret"},
        secret_headers={"Authorization": {"env": "RATES_TOKEN", "prefix": "Bearer "}},
        headers={"Accept": "application/json"},
    )
    result = await _call(tool, currency="EUR/../admin?x=1", date="2026-11-29")
    assert not result.is_error
    seen = server.requests[-1]
    # The value stays inside its path segment: no traversal, no injected query.
    assert seen.path == "/rates/EUR%2F..%2Fadmin%3Fx%3D1"
    assert seen.query == {"date": ["2026-11-29"]}
    assert seen.headers["authorization"] == "Bearer s3cret"
    assert result.data is not None and result.data["json"]["rate"] == 1.08


async def test_post_sends_the_remaining_arguments_as_json(server: ToolServer) -> None:
    schema = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}
    tool = _tool(server, "/tickets", method="POST", arguments=schema)
    assert tool.spec.side_effects and not tool.spec.idempotent and tool.spec.destination == "external"
    result = await _call(tool, title="Printer on fire")
    assert json.loads(server.requests[-1].body) == {"title": "Printer on fire"}
    assert result.data is not None and result.data["status"] == 201


async def test_a_large_answer_is_cut_at_the_cap(server: ToolServer) -> None:
    result = await _call(_tool(server, "/big", max_response_bytes=1000))
    assert not result.is_error and result.content.startswith("y" * 1000)
    assert "cut at 1000 bytes" in result.content and len(result.content) < 1100
    assert result.data == {"status": 200, "truncated": True}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/redirect", "redirect (HTTP 302), not followed"),
        ("/error", 'HTTP 500: {"error": "the rates backend is down"}'),
        ("/nowhere", "HTTP 404"),
    ],
)
async def test_failures_become_error_results(server: ToolServer, path: str, expected: str) -> None:
    result = await _call(_tool(server, path))
    assert result.is_error and expected in result.content


async def test_a_slow_api_times_out_as_an_error_result(server: ToolServer) -> None:
    server.slow_s = 2.0
    result = await _call(_tool(server, "/slow", timeout_s=0.3))
    assert result.is_error and "did not answer within 0.3 s" in result.content


async def test_an_unreachable_api_is_an_error_result_without_details() -> None:
    declaration = HttpToolDeclaration(
        name="gone", description="d", url=f"http://127.0.0.1:{free_port()}/x", arguments={"type": "object"}
    )
    result = await _call(HttpTool(declaration, headers={}))
    assert result.is_error and result.content == "gone could not be reached"


async def test_list_arguments_become_repeated_query_parameters(server: ToolServer) -> None:
    schema = {"type": "object", "properties": {"tag": {"type": "array", "items": {"type": "string"}}}}
    await _call(_tool(server, "/rates/all", arguments=schema), tag=["a b", "c"])
    assert server.requests[-1].query == {"tag": ["a b", "c"]}


def test_a_secret_that_is_not_a_header_value_is_refused_without_showing_it() -> None:
    declaration = HttpToolDeclaration(
        name="t", description="d", url="https://a.example/x", secret_headers={"X-Api-Key": {"env": "K"}}
    )
    with pytest.raises(CatalogError, match="K is not a valid header value") as raised:
        resolve_headers(declaration, {"K": "abc\nInjected: 1"})
    assert "abc" not in str(raised.value)
    assert resolve_headers(declaration, {"K": "abc"})["X-Api-Key"].get_secret_value() == "abc"


def test_render_url_encodes_every_kind_of_value() -> None:
    template = "https://api.example.com/{a}/{b}?flag={c}"
    assert (
        render_url(template, {"a": "x y", "b": 3, "c": True}) == "https://api.example.com/x%20y/3?flag=true"
    )


def test_arguments_are_validated_by_the_declared_schema() -> None:
    declaration = HttpToolDeclaration(
        name="rates", description="d", url="https://x.example/{currency}", arguments=RATES_SCHEMA
    )
    model = HttpTool(declaration, headers={}).spec.arguments
    with pytest.raises(ValueError):
        model(date="today")  # currency missing
    with pytest.raises(ValueError):
        model(currency="EUR", extra="no")
