"""`HostedModel` against a real OpenAI-compatible server (llama_cpp.server) through the fault proxy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from models.base import (
    ChatMessage,
    ChatRequest,
    ModelAuthError,
    ModelBadResponse,
    ModelError,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    StreamCutOff,
    StreamEnd,
    TextDelta,
    collect,
)
from models.hosted import HostedModel, approximate_tokens
from models.settings import HostedModelSettings
from tests.support.proxy import FaultProxy
from tests.support.servers import SERVER_MODEL_ALIAS, LlamaServer

pytestmark = pytest.mark.slow


def ask(text: str, max_tokens: int = 12) -> ChatRequest:
    return ChatRequest.of([ChatMessage(role="user", content=text)], max_tokens=max_tokens, temperature=0.0)


@pytest.fixture
async def hosted(hosted_settings: HostedModelSettings) -> AsyncIterator[HostedModel]:
    model = HostedModel(SERVER_MODEL_ALIAS, hosted_settings)
    yield model
    await model.aclose()


async def test_streams_from_the_real_server(hosted: HostedModel, hosted_proxy: FaultProxy) -> None:
    events = [event async for event in hosted.stream(ask("Say hello."))]
    *deltas, end = events
    assert deltas and all(isinstance(d, TextDelta) for d in deltas)
    assert isinstance(end, StreamEnd) and end.kind == "hosted" and end.model == SERVER_MODEL_ALIAS
    assert end.text == "".join(d.text for d in deltas) and end.text.strip()
    assert end.ttft_ms is not None and end.ttft_ms <= end.latency_ms
    sent = json.loads(hosted_proxy.chat_exchanges()[0].body)
    assert sent["stream"] is True and sent["model"] == SERVER_MODEL_ALIAS and sent["max_tokens"] == 12
    assert sent["messages"] == [{"role": "user", "content": "Say hello."}]


async def test_usage_is_counted_locally_when_the_server_omits_it(hosted: HostedModel) -> None:
    end = await collect(hosted.stream(ask("Say hello.")))
    # llama_cpp.server does not send usage in streamed answers (see ENVIRONMENT.md).
    assert end.usage.source == "counted"
    assert end.usage.completion_tokens == approximate_tokens(end.text)
    assert end.usage.prompt_tokens == approximate_tokens("Say hello.") + 4


async def test_closing_the_stream_closes_the_http_response(
    hosted: HostedModel, hosted_proxy: FaultProxy
) -> None:
    stream = hosted.stream(ask("Count from 1 to 100, separated by commas.", max_tokens=200))
    while not isinstance(await anext(stream), TextDelta):
        pass
    await stream.aclose()
    exchange = hosted_proxy.chat_exchanges()[0]
    assert await asyncio.to_thread(exchange.client_closed.wait, 10), (
        "the proxy never saw the connection close"
    )


async def test_cancelling_the_consumer_task_closes_the_http_response(
    hosted: HostedModel, hosted_proxy: FaultProxy
) -> None:
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in hosted.stream(ask("Count from 1 to 100, separated by commas.", max_tokens=200)):
            if isinstance(event, TextDelta):
                got_text.set()

    task = asyncio.create_task(consume())
    await got_text.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    exchange = hosted_proxy.chat_exchanges()[0]
    assert await asyncio.to_thread(exchange.client_closed.wait, 10)


async def test_a_complete_answer_is_not_reported_as_closed_early(
    hosted: HostedModel, hosted_proxy: FaultProxy
) -> None:
    await collect(hosted.stream(ask("Say hi.", max_tokens=4)))
    exchange = hosted_proxy.chat_exchanges()[0]
    assert await asyncio.to_thread(exchange.finished.wait, 10)
    assert not exchange.client_closed.is_set()


FAULTS: list[tuple[str, dict[str, float], type[ModelError], int | None]] = [
    ("http_500", {}, ModelUnavailable, 500),
    ("rate_limit", {"retry_after": 3}, ModelRateLimited, 429),
    ("reset", {}, ModelUnavailable, None),
    ("hang", {}, ModelTimeout, None),
    ("auth_401", {}, ModelAuthError, 401),
    ("bad_json", {}, ModelBadResponse, None),
    ("bad_sse", {}, ModelBadResponse, None),
]


@pytest.mark.parametrize(("fault", "params", "error", "status"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_each_fault_maps_to_its_error_class(
    hosted: HostedModel,
    hosted_proxy: FaultProxy,
    fault: str,
    params: dict[str, float],
    error: type[ModelError],
    status: int | None,
) -> None:
    hosted_proxy.set_fault(fault, **params)  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        await collect(hosted.stream(ask("Say hello.")))
    assert not isinstance(caught.value, StreamCutOff)
    assert type(caught.value) is error
    if status is not None:
        assert caught.value.status == status
    if fault == "rate_limit":
        assert caught.value.retry_after == 3.0  # type: ignore[attr-defined]
    assert caught.value.user_message
    # One-shot: the endpoint answers again right after.
    assert (await collect(hosted.stream(ask("Say hi.", max_tokens=4)))).text


async def test_a_stream_cut_after_some_text_keeps_the_partial_answer(
    hosted: HostedModel, hosted_proxy: FaultProxy
) -> None:
    hosted_proxy.set_fault("cut", cut_after_events=4)
    seen: list[str] = []
    with pytest.raises(StreamCutOff) as caught:
        async for event in hosted.stream(ask("Count from 1 to 100, separated by commas.", max_tokens=64)):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert seen and caught.value.partial == "".join(seen)
    assert "cut off" in caught.value.user_message


async def test_the_endpoint_being_down_is_unavailable(hosted: HostedModel, hosted_proxy: FaultProxy) -> None:
    hosted_proxy.take_down()
    with pytest.raises(ModelUnavailable, match="connection failed"):
        await collect(hosted.stream(ask("Say hello.")))
    hosted_proxy.bring_up()
    assert (await collect(hosted.stream(ask("Say hi.", max_tokens=4)))).text


async def test_the_upstream_server_stopped_is_unavailable(
    hosted: HostedModel, hosted_proxy: FaultProxy, llama_server: LlamaServer
) -> None:
    with llama_server.stopped():
        with pytest.raises(ModelUnavailable) as caught:
            await collect(hosted.stream(ask("Say hello.")))
        assert caught.value.status == 502
    assert (await collect(hosted.stream(ask("Say hi.", max_tokens=4)))).text
