"""A private llama.cpp server with parallel slots: N turns generate at once, the rest wait fairly.

A real `llama-server` (built by `make llama-server` from the same pinned llama.cpp source as
llama-cpp-python) on loopback, serving the bundled SmolLM2 with three slots. It is started with
`--ignore-eos`, so every answer runs to its token limit whatever the model would write: the
asserts are about who generated when, never about the words.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.services import build_local_model
from assistant.settings import Settings
from models.base import ChatMessage, ChatRequest, StreamEnd, TextDelta
from models.hosted import IDLE_EXPIRY_S, HostedModel, make_client
from models.local_queue import FairQueue, QueuedModel, queue_of
from models.settings import HostedModelSettings
from tests.support.parallel_server import ParallelLlamaServer, llama_server_binary
from tests.support.servers import bundled_gguf

pytestmark = pytest.mark.slow

SLOTS = 3
ALIAS = "private-parallel"


# One server per test: a test's streams (and the connections its client keeps) never meet the
# next test's on a shared server.
@pytest.fixture
def parallel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParallelLlamaServer]:
    if not llama_server_binary().is_file():
        pytest.fail(f"no llama-server at {llama_server_binary()}: run `make llama-server` (or `make test`)")
    log_path = tmp_path_factory.mktemp("llama-parallel") / "server.log"
    server = ParallelLlamaServer(bundled_gguf(), log_path, alias=ALIAS, slots=SLOTS, ignore_eos=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def private_model(server: ParallelLlamaServer, slots: int) -> QueuedModel:
    settings = HostedModelSettings(base_url=server.base_url, api_key="unused", total_timeout_s=120.0)  # type: ignore[arg-type]
    return QueuedModel(HostedModel(ALIAS, settings, kind="local"), FairQueue(slots=slots))


def ask(user: str, max_tokens: int = 32) -> ChatRequest:
    return ChatRequest.of(
        [ChatMessage(role="user", content="Count from one to fifty.")],
        max_tokens=max_tokens,
        temperature=0.0,
        requester=user,
    )


async def stream_all(model: QueuedModel, users: list[str], max_tokens: int = 32) -> list[str]:
    """Run one turn per user at once; the log says whose token or end came, in arrival order."""
    log: list[str] = []

    async def turn(user: str) -> None:
        async for event in model.stream(ask(user, max_tokens)):
            if isinstance(event, TextDelta):
                log.append(user)
            elif isinstance(event, StreamEnd):
                log.append(f"{user}:end")

    await asyncio.gather(*(turn(user) for user in users))
    return log


async def test_parallel_slots_generate_several_turns_at_once(parallel_server: ParallelLlamaServer) -> None:
    # Long answers (the server ignores EOS): on a busy machine a turn's request may reach the
    # server a moment after another's; the overlap must not depend on that moment.
    log = await stream_all(private_model(parallel_server, SLOTS), ["ann", "bob", "cat"], max_tokens=256)
    first_token = {user: log.index(user) for user in ("ann", "bob", "cat")}
    first_end = min(index for index, entry in enumerate(log) if entry.endswith(":end"))
    assert max(first_token.values()) < first_end, f"the turns did not overlap: {log}"


async def test_past_the_slots_turns_wait_their_turn_in_the_queue(
    parallel_server: ParallelLlamaServer,
) -> None:
    log = await stream_all(private_model(parallel_server, 1), ["ann", "bob", "cat"])
    tokens = [entry for entry in log if not entry.endswith(":end")]
    switches = sum(1 for a, b in itertools.pairwise(tokens) if a != b)
    assert switches == 2, f"one slot, yet the turns interleaved: {log}"


async def test_the_app_puts_the_private_server_behind_a_queue_with_its_slots(
    parallel_server: ParallelLlamaServer, data_dir: Path
) -> None:
    settings = Settings(data_dir=data_dir)
    settings.models.local.server_url = parallel_server.base_url
    settings.models.local.server_model = ALIAS
    settings.models.local.server_parallel = SLOTS
    model = build_local_model(settings)
    queue = queue_of(model)
    assert model.kind == "local" and queue is not None and queue.slots == SLOTS
    events = [event async for event in model.stream(ask("ann"))]
    assert isinstance(events[-1], StreamEnd) and events[-1].kind == "local"
    assert queue.running == 0 and queue.waiting == 0


def test_idle_connections_are_dropped_before_the_server_drops_them() -> None:
    """llama.cpp's server closes an idle connection after 5 s, as long as the SDK kept one: a
    turn that waited about that long in the queue went out on a closing connection."""
    client = make_client(HostedModelSettings(base_url="http://127.0.0.1:9/v1", api_key="unused"))  # type: ignore[arg-type]
    pool = client._client._transport._pool  # the SDK's HTTP client's connection pool
    assert pool._keepalive_expiry == IDLE_EXPIRY_S < 5.0
