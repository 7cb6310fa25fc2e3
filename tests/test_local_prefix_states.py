"""Saved prompt-prefix states (models/prefix_states.py) never change what the local model says.

Real llama.cpp on the suite's small GGUF, greedy decoding: a tool turn whose prefix is restored
after another request writes the same tokens as the first, cold one; a state that cannot be
restored is dropped and the prompt is read from its first token, with the same tokens again. The
store's byte bound is checked on its own with states of known sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.base import ChatMessage, ChatRequest, StreamEnd, ToolDefinition
from models.local import LocalModel
from models.prefix_states import PrefixState, PrefixStates
from models.settings import LocalModelSettings
from tests.support.servers import bundled_gguf

CALCULATOR = ToolDefinition(
    name="calculator",
    description="Evaluate an arithmetic expression.",
    parameters={"type": "object", "properties": {"expression": {"type": "string"}}},
)
SYSTEM = "You are a careful assistant. Answer in one short sentence."
LONGER = "Answer in one short sentence, plainly, without lists, and say so when you do not know."


def settings(**changes: object) -> LocalModelSettings:
    # `supports_tools`: the tool turn's path, though SmolLM2's template does not render tools.
    base: dict[str, object] = {
        "profile": "small",
        "context_window": 512,
        "threads": 1,
        "supports_tools": True,
    }
    return LocalModelSettings.model_validate({**base, **changes})


def tool_turn(question: str) -> ChatRequest:
    messages = [ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=question)]
    return ChatRequest.of(messages, max_tokens=24, temperature=0.0, tools=[CALCULATOR])


def other_request() -> ChatRequest:
    """A tool-free request with another opening: afterwards the context holds none of the prefix."""
    messages = [
        ChatMessage(role="system", content="Summarize the text in five words."),
        ChatMessage(role="user", content="The meeting moved to Thursday because the room was booked."),
    ]
    return ChatRequest.of(messages, max_tokens=12, temperature=0.0)


async def answer(model: LocalModel, request: ChatRequest) -> str:
    events = [event async for event in model.stream(request)]
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.finish_reason != "cancelled"
    return end.text


@pytest.fixture(scope="module")
def gguf() -> Path:
    return bundled_gguf()


@pytest.fixture
def model(gguf: Path) -> Iterator[LocalModel]:
    local = LocalModel(gguf, settings())
    local.wait_ready()
    yield local
    local.close()


async def test_a_restored_prefix_gives_the_cold_runs_tokens(model: LocalModel) -> None:
    cold = await answer(model, tool_turn("What is two plus two?"))
    assert model.prefix_states.actions["saved"] == 1 and len(model.prefix_states) == 1
    await answer(model, other_request())
    again = await answer(model, tool_turn("What is two plus two?"))
    assert model.prefix_states.actions["restored"] == 1
    assert again == cold and cold.strip()


async def test_a_restored_prefix_serves_another_question_as_a_cold_model_would(
    model: LocalModel, gguf: Path
) -> None:
    await answer(model, tool_turn("Name a colour."))
    await answer(model, other_request())
    restored = await answer(model, tool_turn("Name a fruit."))
    assert model.prefix_states.actions["restored"] == 1
    cold_model = LocalModel(gguf, settings(prefix_cache_mb=0))
    try:
        cold = await answer(cold_model, tool_turn("Name a fruit."))
        assert cold_model.prefix_states.actions["off"] == 1 and len(cold_model.prefix_states) == 0
    finally:
        cold_model.close()
    assert restored == cold and cold.strip()


async def test_a_state_that_cannot_be_restored_is_dropped_and_the_prompt_read_again(
    model: LocalModel,
) -> None:
    cold = await answer(model, tool_turn("What is two plus two?"))
    (key,) = model.prefix_states.prefixes()
    good = model.prefix_states.get(key)
    assert good is not None
    # Cut short: llama.cpp refuses it, as it would a state from another model or build.
    model.prefix_states.put(PrefixState(tokens=key, data=good.data[: len(good.data) // 2]))
    await answer(model, other_request())
    again = await answer(model, tool_turn("What is two plus two?"))
    assert model.prefix_states.actions["failed"] == 1 and model.prefix_states.actions["restored"] == 0
    assert again == cold and model.prefix_states.get(key) is None


def state(n: int, size: int) -> PrefixState:
    """A state of exactly `size` bytes (4 per token, the rest data) with tokens `n, n+1`."""
    return PrefixState(tokens=(n, n + 1), data=bytes(size - 8))


def test_the_bound_evicts_the_least_recently_used_state() -> None:
    states = PrefixStates(capacity_bytes=250)
    assert states.put(state(1, 100)) and states.put(state(2, 100))
    assert states.get((1, 2)) is not None  # 1 is now the most recently used
    assert states.put(state(3, 100))
    assert states.prefixes() == [(1, 2), (3, 4)] and states.size == 200 <= states.capacity_bytes


def test_a_state_larger_than_the_bound_is_not_kept() -> None:
    states = PrefixStates(capacity_bytes=250)
    assert states.put(state(1, 100))
    assert not states.put(state(2, 251))
    assert states.prefixes() == [(1, 2)] and states.size == 100


def test_the_default_bound_is_a_setting() -> None:
    assert LocalModelSettings().prefix_cache_mb == 128
    assert LocalModelSettings(prefix_cache_mb=0).prefix_cache_mb == 0
    with pytest.raises(ValueError):
        LocalModelSettings(prefix_cache_mb=-1)


async def test_a_prefix_read_ahead_serves_the_first_tool_turn_as_a_cold_model_would(
    model: LocalModel, gguf: Path
) -> None:
    read = model.read_prefix([ChatMessage(role="system", content=SYSTEM)], [CALCULATOR])
    assert read.result(timeout=120) == "saved"
    first = await answer(model, tool_turn("Name a fruit."))
    assert model.prefix_states.actions["held"] == 1  # the read left the prefix in the context
    cold_model = LocalModel(gguf, settings(prefix_cache_mb=0))
    try:
        assert await answer(cold_model, tool_turn("Name a fruit.")) == first
    finally:
        cold_model.close()


def test_warm_tool_prefix_queues_a_read_only_where_one_can_be_made(model: LocalModel) -> None:
    from models.fakes import QueueModel
    from routing.warmup import warm_tool_prefix

    assert warm_tool_prefix(QueueModel(name="scripted", kind="local"), SYSTEM, [CALCULATOR]) is None
    assert warm_tool_prefix(model, SYSTEM, []) is None
    read = warm_tool_prefix(model, SYSTEM, [CALCULATOR])
    assert read is not None and read.result(timeout=120) == "saved"
    assert model.prefix_states.actions["saved"] == 1


@pytest.fixture(scope="module")
def llama(gguf: Path) -> Any:
    from llama_cpp import Llama

    return Llama(model_path=str(gguf), n_ctx=512, n_threads=1, verbose=False)


def test_a_read_gives_way_between_steps_and_keeps_what_it_read(llama: Any) -> None:
    from models.prefix_states import READ_STEP

    states = PrefixStates(capacity_bytes=64 * 1024 * 1024)
    long_system = SYSTEM + " Keep to the facts." * 40
    messages = [{"role": "system", "content": long_system}, {"role": "user", "content": "Hi"}]
    llama.reset()
    looks = iter([False, True])
    prepared = states.prepare(llama, messages, [CALCULATOR.wire()], cancelled=lambda: next(looks))
    assert prepared.action == "stopped" and prepared.prefix_tokens > 2 * READ_STEP
    assert llama.n_tokens == READ_STEP and len(states) == 0
    prepared = states.prepare(llama, messages, [CALCULATOR.wire()])
    assert prepared.action == "saved" and llama.n_tokens == prepared.prefix_tokens


async def test_real_states_stay_within_the_configured_bound(gguf: Path) -> None:
    """SmolLM2 keeps ~23 KB a token: two ~40-token openings do not fit in 1 MB together."""
    local = LocalModel(gguf, settings(prefix_cache_mb=1))
    question = ChatMessage(role="user", content="Name a colour.")
    try:
        for persona in ("a terse", "a cheerful"):
            system = ChatMessage(role="system", content=f"You are {persona} assistant. {LONGER}")
            request = ChatRequest.of([system, question], max_tokens=8, temperature=0.0, tools=[CALCULATOR])
            await answer(local, request)
            assert len(local.prefix_states) == 1
        assert local.prefix_states.actions["saved"] == 2
        assert 512 * 1024 < local.prefix_states.size <= 1024 * 1024
    finally:
        local.close()
