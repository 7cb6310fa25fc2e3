"""The API as a demanding client meets it: OpenAI options it does not serve, odd bodies, encodings.

Units check the request's shape (`schema`), the body's decoding (`limits.decoded_body`) and the
error's naming (`errors.from_validation`) without a server; the `slow` tests share one real
server (echo upstream behind the recording proxy) and drive it with the official SDK and httpx.
What a model writes is never asserted, only status, error fields and the wire format.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
from pydantic import ValidationError

from assistant.api.completions import Exchange
from assistant.api.errors import ApiError, from_validation, rate_limited
from assistant.api.limits import decoded_body
from assistant.api.schema import ChatCompletionRequest, unserved_option
from assistant.turns import AnswerDelta, Receipt, TurnEvent, TurnResult
from routing.tiers import Route, Tier
from tests.browser.app_server import AppServer
from tests.support.api_server import echo_api_server
from tests.support.proxy import FaultProxy

ASK: Any = [{"role": "user", "content": "Say hello to the team"}]


def _payload(**extra: object) -> dict[str, object]:
    return {"model": "confidante", "messages": ASK, **extra}


# --- units ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"stop": ["\n\n"]}, "stop"),
        ({"stop": "END"}, "stop"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"modalities": ["text", "audio"]}, "modalities"),
    ],
)
def test_an_option_that_would_be_lost_is_a_400_naming_it(extra: dict[str, object], param: str) -> None:
    refusal = unserved_option(_payload(**extra))
    assert refusal is not None
    assert (refusal.status, refusal.code, refusal.param) == (400, "unsupported_parameter", param)


@pytest.mark.parametrize(
    "extra",
    [
        {"n": 1, "stop": None, "logprobs": False, "response_format": {"type": "text"}},
        {"stop": [], "logit_bias": {}, "modalities": ["text"], "top_logprobs": None},
        {"temperature": 0.2, "top_p": 0.9, "seed": 7, "user": "u-1", "metadata": {"team": "x"}},
        {"stream": True, "stream_options": {"include_usage": True}},
        {"stream": None, "n": None, "stream_options": None, "temperature": None, "confidante": None},
    ],
)
def test_options_that_ask_for_nothing_unserved_pass(extra: dict[str, object]) -> None:
    assert unserved_option(_payload(**extra)) is None
    ChatCompletionRequest.model_validate(_payload(**extra))


def test_stream_options_without_a_stream_is_a_400() -> None:
    refusal = unserved_option(_payload(stream_options={"include_usage": True}))
    assert refusal is not None and (refusal.status, refusal.param) == (400, "stream_options")


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"temperature": 5}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"presence_penalty": -3}, "presence_penalty"),
        ({"stream": "yes"}, "stream"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": " "}]}, "messages"),
        ({"messages": [{"role": "user", "content": "Hi \ud800 there"}]}, "messages.0.content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]},
            "messages.0.content",
        ),
        ({"messages": [*ASK, {"role": "assistant", "content": "Hi"}]}, "messages"),
    ],
)
def test_a_malformed_option_is_a_422_naming_the_field(extra: dict[str, object], param: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ChatCompletionRequest.model_validate(_payload(**extra))
    error = from_validation(caught.value)
    assert (error.status, error.param) == (422, param)
    assert error.message.startswith(f"{param}: ") and "Value error" not in error.message


def test_a_gzip_or_deflate_body_is_inflated() -> None:
    body = json.dumps(_payload()).encode()
    assert decoded_body(gzip.compress(body), "gzip", 10_000) == body
    assert decoded_body(zlib.compress(body), "deflate", 10_000) == body
    assert decoded_body(body, "identity", 10_000) == body


@pytest.mark.parametrize(
    ("raw", "encoding", "status"),
    [
        (gzip.compress(b" " * 50_000), "gzip", 413),  # inflates past the limit: no zip bomb
        (gzip.compress(b"{}")[:-12], "gzip", 422),  # truncated
        (b"{}", "gzip", 422),  # not gzip at all
        (b"{}", "br", 415),
    ],
)
def test_a_body_not_decodable_within_the_limit_is_refused(raw: bytes, encoding: str, status: int) -> None:
    with pytest.raises(ApiError) as caught:
        decoded_body(raw, encoding, 10_000)
    assert caught.value.status == status


async def _breaks_after_a_word() -> AsyncIterator[TurnEvent]:
    yield AnswerDelta("Hello")
    yield AnswerDelta(" there")
    raise RuntimeError("a bug in the pipeline")


async def test_a_turn_that_breaks_mid_stream_ends_with_an_error_event_and_done() -> None:
    """The exception escaped the stream: the connection was cut without an `error` event or
    [DONE], which the SDK reports as a broken transfer rather than the server's error."""
    request = ChatCompletionRequest.model_validate(_payload(stream=True))
    exchange = Exchange(request, _breaks_after_a_word(), "chatcmpl-test")
    assert await exchange.opening() is None
    pieces = [piece async for piece in exchange.stream(sources=False)]
    events = [line.removeprefix(b"data: ") for piece in pieces for line in piece.split(b"\n\n") if line]
    assert events[-1] == b"[DONE]"
    assert json.loads(events[-2])["error"]["type"] == "server_error"
    assert exchange.failure is not None  # the audit record says "server error"


async def _three_words() -> AsyncIterator[TurnEvent]:
    for word in ("One", " two", " three"):
        yield AnswerDelta(word)
    yield _result()


def _result() -> TurnResult:
    receipt = Receipt(tier=Tier.PUBLIC, route=Route.HOSTED, rule="default")
    return TurnResult(answer="One two three", outcome="ok", route="hosted", model="m", receipt=receipt)


async def test_every_chunk_of_a_stream_has_the_same_id_and_created(monkeypatch: pytest.MonkeyPatch) -> None:
    """`created` was each chunk's own second: a stream crossing a second changed it mid-way."""
    seconds = iter(range(1_800_000_000, 1_800_000_100))
    monkeypatch.setattr("assistant.api.completions.time.time", lambda: float(next(seconds)))
    request = ChatCompletionRequest.model_validate(
        _payload(stream=True, stream_options={"include_usage": True})
    )
    exchange = Exchange(request, _three_words(), "chatcmpl-test")
    assert await exchange.opening() is None
    pieces = [piece async for piece in exchange.stream(sources=False)]
    events = [line.removeprefix(b"data: ") for piece in pieces for line in piece.split(b"\n\n") if line]
    chunks = [json.loads(event) for event in events[:-1]]
    assert len(chunks) == 6  # role, three words, finish, usage
    assert {(chunk["id"], chunk["created"]) for chunk in chunks} == {("chatcmpl-test", exchange.created)}


async def _ends_without_a_result() -> AsyncIterator[TurnEvent]:
    yield AnswerDelta("Hello")


async def test_a_stream_that_ends_without_a_result_says_so_before_done() -> None:
    """It ended with [DONE] alone: no finish chunk, no error, an answer that looked complete."""
    request = ChatCompletionRequest.model_validate(_payload(stream=True))
    exchange = Exchange(request, _ends_without_a_result(), "chatcmpl-test")
    assert await exchange.opening() is None
    pieces = [piece async for piece in exchange.stream(sources=False)]
    events = [line.removeprefix(b"data: ") for piece in pieces for line in piece.split(b"\n\n") if line]
    assert events[-1] == b"[DONE]" and json.loads(events[-2])["error"]["code"] == "service_unavailable"


def test_a_spent_budget_tells_the_sdk_not_to_retry_and_a_rate_limit_does_not() -> None:
    assert rate_limited(3600, "spent", code="insufficient_quota").headers["x-should-retry"] == "false"
    assert "x-should-retry" not in rate_limited(2, "slow down").headers  # worth retrying after Retry-After


# --- the running server ---------------------------------------------------------------------------


class Served:
    def __init__(self, server: AppServer, proxy: FaultProxy, key: str) -> None:
        self.server, self.proxy, self.key = server, proxy, key
        self.base_url = f"{server.base_url}/v1"

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=self.key, max_retries=0, timeout=120)

    def post(self, raw: bytes, **headers: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json", **headers}
        return httpx.post(f"{self.base_url}/chat/completions", content=raw, headers=headers, timeout=120)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with echo_api_server(tmp_path_factory.mktemp("api-edges")) as (server, proxy):
        key = server.cli("keys", "create", "svc").stdout.strip().splitlines()[-1]
        yield Served(server, proxy, key)


@pytest.mark.slow
def test_the_sdk_gets_a_400_for_options_it_would_otherwise_lose(served: Served) -> None:
    """n=2 was a 422 `invalid_request`; stop, logprobs and JSON mode answered 200 as if granted."""
    before = len(served.proxy.chat_exchanges())
    asks: list[tuple[dict[str, Any], str]] = [
        ({"n": 2}, "n"),
        ({"stop": ["team"]}, "stop"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
    ]
    for extra, param in asks:
        with pytest.raises(openai.BadRequestError) as caught:
            served.client().chat.completions.create(model="confidante", messages=ASK, **extra)  # type: ignore[call-overload]
        body: Any = caught.value.body
        assert (caught.value.status_code, body["code"], body["param"]) == (
            400,
            "unsupported_parameter",
            param,
        )
    assert len(served.proxy.chat_exchanges()) == before  # refused before anything was sent


@pytest.mark.slow
def test_a_deeply_nested_body_is_a_422_not_a_500(served: Served) -> None:
    response = served.post(b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.slow
def test_a_gzip_body_is_answered_and_an_unknown_encoding_is_a_415(served: Served) -> None:
    """A gzip body was read as broken JSON (422 'not valid JSON')."""
    raw = gzip.compress(json.dumps(_payload()).encode())
    response = served.post(raw, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["finish_reason"] == "stop"
    refused = served.post(raw, **{"Content-Encoding": "br"})
    assert refused.status_code == 415 and refused.json()["error"]["code"] == "unsupported_content_encoding"


@pytest.mark.slow
def test_ignored_options_roles_and_text_parts_stream_with_usage_and_done(served: Served) -> None:
    """What is accepted works end to end: sampling hints and bookkeeping are ignored, `developer`
    is a system message, text parts are joined, and the stream ends with usage then [DONE]."""
    messages: Any = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Answer in English."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Say hello"}, {"type": "text", "text": "to 团队 👋"}],
        },
    ]
    options: Any = {"temperature": 0.3, "top_p": 0.9, "seed": 1, "user": "u-1", "metadata": {"app": "x"}}
    chunks = list(
        served.client().chat.completions.create(
            model="confidante",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            **options,
        )
    )
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert "团队" in text  # the echo stub handed the unicode back intact


@pytest.mark.slow
def test_the_sdk_retrieves_a_served_model_and_gets_model_not_found_for_another(served: Served) -> None:
    """`models.retrieve` was a 404 `unknown_url`, as for a path the API never serves."""
    client = served.client()
    assert client.models.retrieve("confidante-local").id == "confidante-local"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")
    body: Any = caught.value.body
    assert (body["code"], body["param"]) == ("model_not_found", "model")
    denied = httpx.get(f"{served.base_url}/models/confidante", timeout=30)
    assert denied.status_code == 401  # no key, no answer
    assert httpx.post(f"{served.base_url}/models/confidante", timeout=30).status_code == 405


@pytest.mark.slow
def test_the_sdk_with_its_default_retries_asks_once_when_the_key_budget_is_spent(served: Served) -> None:
    """The SDK retried the 429 `insufficient_quota` twice (its default), each retry refused again,
    audited and counted against the key's rate limit."""
    key = served.server.cli("keys", "create", "svc", "--daily-tokens", "1").stdout.strip().splitlines()[-1]
    client = openai.OpenAI(base_url=served.base_url, api_key=key, timeout=120)  # max_retries: the default 2
    client.chat.completions.create(model="confidante", messages=ASK)  # spends the budget
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="confidante", messages=ASK)
    assert caught.value.response.headers["x-should-retry"] == "false"
    prefix = key.split("_")[1]
    lines = served.server.cli("audit", "export").stdout.splitlines()
    details = [json.loads(line).get("detail") or "" for line in lines if line.strip()]
    assert sum(d.startswith(f"key={prefix} status=429") for d in details) == 1
