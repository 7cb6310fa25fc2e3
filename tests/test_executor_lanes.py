"""Long blocking work never starves a new chat's data-layer calls (issue 17).

The reproduction: chat turns whose retrieval waits (as on the busy local model's queue), tool
calls that wait, and uploads whose parser child has not answered all hold threads, released only
at the end; meanwhile a new chat session's data-layer calls on a real database must complete.
Everything is synchronised by events: the waiting calls block on a `threading.Event`; the one
bound (`GUARD_S`) only turns "never" into a failure instead of a hung suite, it measures nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chainlit.context import init_http_context
from chainlit.user import User as ChainlitUser

from assistant import executors
from assistant.executors import Lane
from assistant.governance.component import build_governance
from assistant.governance.db import create_db_engine, migrate
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.tools.base import ToolContext
from assistant.tools.builtin import SearchDocumentsTool
from assistant.turns import Conversation
from assistant.ui.datalayer import data_layer_for
from assistant.uploads.intake import IncomingFile, UploadIntake
from assistant.uploads.jobs import JobStore
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging
from knowledge.settings import ParsingSettings
from models.fakes import QueueModel
from tests.support.privacy import ScriptedPrivacy

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)
GUARD_S = 30.0
QUESTION = "What does the handbook say about parental leave?"


class Held:
    """Blocking calls that count themselves in and wait until released."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expected: int) -> None:
        self.release = threading.Event()
        self.all_started = asyncio.Event()
        self._loop, self._expected, self._started = loop, expected, 0
        self._lock = threading.Lock()

    def hold(self) -> None:
        with self._lock:
            self._started += 1
            if self._started == self._expected:
                self._loop.call_soon_threadsafe(self.all_started.set)
        assert self.release.wait(GUARD_S * 4), "never released"


class WaitingKnowledge:
    """Retrieval that waits, as a search whose relevance judge queues for the local model."""

    def __init__(self, held: Held) -> None:
        self.held = held

    def search(self, query: str, principal: Principal, k: int = 5, **options: Any) -> list[Any]:
        self.held.hold()
        return []


async def within_guard(call: Awaitable[Any]) -> bool:
    task = asyncio.ensure_future(call)
    done, _ = await asyncio.wait({task}, timeout=GUARD_S)
    if task in done:
        task.result()
        return True
    task.cancel()
    return False


@pytest.fixture
def governance(data_dir: Path) -> Iterator[Any]:
    gov = build_governance(GovernanceSettings(passwords=FAST), data_dir)
    gov.accounts.add_user(username="alice", password="alice password")
    yield gov
    gov.close()


def long_calls(held: Held, data_dir: Path) -> list[Callable[[], Awaitable[Any]]]:
    """Six chat turns in retrieval, six tool calls, four uploads in their parser."""
    knowledge = WaitingKnowledge(held)
    pipeline = ChatPipeline(
        settings=Settings(), models=ModelSet(local=QueueModel(default="ok", name="local"), hosted=[]),
        privacy=ScriptedPrivacy(), services=TurnServices(knowledge=knowledge),  # type: ignore[arg-type]
    )  # fmt: skip
    tool = SearchDocumentsTool(knowledge)  # type: ignore[arg-type]
    engine = create_db_engine(GovernanceSettings(), data_dir / "jobs")
    migrate(engine)
    intake = UploadIntake(
        settings=UploadSettings(max_parallel_parses=4), parsing=ParsingSettings(),
        privacy=ScriptedPrivacy(),  # type: ignore[arg-type]
        store=JobStore(engine), staging=Staging(data_dir / "uploads"),
    )  # fmt: skip
    intake._parse = lambda path, name: held.hold()  # type: ignore[assignment,method-assign,return-value]

    async def turn(n: int) -> None:
        conversation = Conversation(id=f"busy-{n}", principal=Principal(user_id=f"user{n}"))
        async for _ in pipeline.run(conversation, QUESTION):
            pass

    async def tool_call() -> None:
        await tool.run(tool.spec.arguments(query="leave"), ToolContext(principal=Principal(user_id="u")))

    async def upload(n: int) -> None:
        await intake.accept(IncomingFile(data_dir / f"f{n}.pdf", f"f{n}.pdf"), owner="u", thread_id="t")

    return [
        *(lambda n=n: turn(n) for n in range(6)),
        *(tool_call for _ in range(6)),
        *(lambda n=n: upload(n) for n in range(4)),
    ]


async def test_a_new_chat_is_served_while_long_work_holds_threads(governance: Any, data_dir: Path) -> None:
    # Six threads held: all of the default executor on 2 cores (min(32, cores + 4)); with lanes,
    # the interactive lane's two plus the four parses the intake lets run at once here.
    held = Held(asyncio.get_running_loop(), expected=executors.LANE_WORKERS[Lane.INTERACTIVE] + 4)
    busy = [asyncio.ensure_future(call()) for call in long_calls(held, data_dir)]
    layer = data_layer_for(governance)

    async def new_chat_session() -> None:
        init_http_context(user=ChainlitUser(identifier="alice"))
        assert await layer.get_user("alice") is not None
        await layer.update_thread("fresh", name="A new chat", metadata={"chat_profile": "default"})
        thread = await layer.get_thread("fresh")
        assert thread is not None and thread["name"] == "A new chat"

    try:
        await held.all_started.wait()
        served = await within_guard(new_chat_session())
    finally:
        held.release.set()
        await asyncio.gather(*busy, return_exceptions=True)
    assert served, "the new chat's data-layer calls waited behind the long work"


async def test_each_lane_answers_while_another_is_full() -> None:
    for full in (Lane.BACKGROUND, Lane.INTERACTIVE):
        held = Held(asyncio.get_running_loop(), expected=executors.LANE_WORKERS[full])
        # One more than the lane has workers: the extra one queues inside the full lane.
        blocked = [
            asyncio.ensure_future(executors.run_in(full, held.hold))
            for _ in range(executors.LANE_WORKERS[full] + 1)
        ]
        try:
            await held.all_started.wait()
            others = [lane for lane in Lane if lane is not full]
            answers = [await within_guard(executors.run_in(lane, lambda: "ok")) for lane in others]
        finally:
            held.release.set()
            await asyncio.gather(*blocked)
        assert answers == [True, True], full


requester: contextvars.ContextVar[str] = contextvars.ContextVar("requester", default="nobody")


async def test_the_callers_context_travels_with_the_call() -> None:
    requester.set("alice")
    assert await executors.run_io(requester.get) == "alice"


async def test_a_call_cancelled_while_queued_never_runs() -> None:
    lane = Lane.BACKGROUND
    held = Held(asyncio.get_running_loop(), expected=executors.LANE_WORKERS[lane])
    blocked = [asyncio.ensure_future(executors.run_in(lane, held.hold)) for _ in range(held._expected)]
    ran = threading.Event()
    try:
        await held.all_started.wait()
        queued = asyncio.ensure_future(executors.run_in(lane, ran.set))
        await asyncio.sleep(0)  # one turn of the loop: the task hands its call to the pool
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
    finally:
        held.release.set()
        await asyncio.gather(*blocked)
    # Every worker is free again: a later call runs, the cancelled one did not.
    assert await executors.run_in(lane, lambda: "after") == "after"
    assert not ran.is_set()
