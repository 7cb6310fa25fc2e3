"""`LocalModel` on real llama.cpp: streaming, serialization, the busy queue, cancellation, bad paths."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.base import ChatMessage, ChatRequest, ModelBusy, ModelError, StreamEnd, TextDelta, collect
from models.local import LocalModel
from models.settings import LocalModelSettings
from tests.support.servers import bundled_gguf

pytestmark = pytest.mark.slow

COUNTING = "Count from 1 to 100, separated by commas."


def ask(text: str, max_tokens: int = 12) -> ChatRequest:
    return ChatRequest.of([ChatMessage(role="user", content=text)], max_tokens=max_tokens, temperature=0.0)


class CountingLlama:
    """A real `Llama` that also counts the chunks each generation produced."""

    def __init__(self, path: Path) -> None:
        from llama_cpp import Llama

        self._llm = Llama(model_path=str(path), n_ctx=512, n_threads=1, verbose=False)
        self.produced: list[int] = []

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        index = len(self.produced)
        self.produced.append(0)
        for chunk in self._llm.create_chat_completion(**kwargs):
            self.produced[index] += 1
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)


@pytest.fixture(scope="module")
def counting() -> Iterator[tuple[LocalModel, CountingLlama]]:
    llama = CountingLlama(bundled_gguf())
    model = LocalModel(
        bundled_gguf(), LocalModelSettings(context_window=512, queue_size=1), loader=lambda: llama
    )
    model.wait_ready()
    yield model, llama
    model.close()


async def test_streams_deltas_then_one_final_record(local_llama_model: LocalModel) -> None:
    events = [event async for event in local_llama_model.stream(ask("Say hello."))]
    *deltas, end = events
    assert deltas and all(isinstance(d, TextDelta) for d in deltas)
    assert isinstance(end, StreamEnd)
    assert end.text == "".join(d.text for d in deltas) and end.text.strip()
    assert (end.kind, end.model, end.usage.source) == ("local", "SmolLM2-135M-Instruct", "counted")
    assert end.usage.completion_tokens == local_llama_model.count_tokens(end.text)
    assert end.usage.prompt_tokens > local_llama_model.count_tokens("Say hello.")
    assert end.finish_reason in ("stop", "length")
    assert end.ttft_ms is not None and 0 < end.ttft_ms <= end.latency_ms


async def test_concurrent_requests_are_served_one_after_the_other(local_llama_model: LocalModel) -> None:
    order: list[str] = []

    async def consume(tag: str) -> None:
        async for event in local_llama_model.stream(ask(f"Say {tag}.", max_tokens=10)):
            if isinstance(event, TextDelta):
                order.append(tag)

    await asyncio.gather(consume("one"), consume("two"))
    assert set(order) == {"one", "two"}
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches == 1, f"the two streams interleaved: {order}"


async def test_a_full_queue_says_busy_with_a_retry_hint(counting: tuple[LocalModel, CountingLlama]) -> None:
    model, _ = counting
    running = model.stream(ask(COUNTING, max_tokens=48))
    assert isinstance(await anext(running), TextDelta)  # the worker is busy with it now
    waiting = asyncio.create_task(collect(model.stream(ask("Say hi.", max_tokens=4))))
    for _ in range(500):
        if model.queue_depth() == 1:
            break
        await asyncio.sleep(0.01)
    assert model.queue_depth() == 1
    with pytest.raises(ModelBusy) as caught:
        await collect(model.stream(ask("Say hi.", max_tokens=4)))
    assert caught.value.retry_after_s >= 1
    assert f"try again in {caught.value.retry_after_s} s" in caught.value.user_message
    await running.aclose()
    assert (await waiting).text.strip()


async def test_closing_the_stream_stops_generation_and_frees_the_worker(
    counting: tuple[LocalModel, CountingLlama],
) -> None:
    model, llama = counting
    full = await collect(model.stream(ask(COUNTING, max_tokens=64)))
    full_chunks = llama.produced[-1]
    assert full_chunks > 30, f"the reference answer is too short to test cancellation: {full.text!r}"

    stream = model.stream(ask(COUNTING, max_tokens=64))
    for _ in range(3):
        await anext(stream)
    await stream.aclose()
    after = await collect(model.stream(ask("Say hi.", max_tokens=4)))
    assert after.text.strip()
    assert llama.produced[-2] < full_chunks - 15, "generation went on after the consumer left"


async def test_cancelling_the_consumer_task_stops_generation(
    counting: tuple[LocalModel, CountingLlama],
) -> None:
    model, llama = counting
    first_delta = asyncio.Event()

    async def consume() -> None:
        async for event in model.stream(ask(COUNTING, max_tokens=64)):
            if isinstance(event, TextDelta):
                first_delta.set()

    task = asyncio.create_task(consume())
    await first_delta.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await collect(model.stream(ask("Say hi.", max_tokens=4)))
    assert llama.produced[-2] < 30


async def test_a_bad_model_path_fails_with_a_clear_model_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"
    model = LocalModel(missing, LocalModelSettings())
    try:
        with pytest.raises(ModelError, match="failed to load"):
            await collect(model.stream(ask("hi")))
        with pytest.raises(ModelError, match="failed to load"):
            model.wait_ready(timeout=30)
        with pytest.raises(ModelError, match=str(missing)):
            model.count_tokens("hi")
    finally:
        model.close()
