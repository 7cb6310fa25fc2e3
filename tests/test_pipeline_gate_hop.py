"""The gate's part of a turn (issue 15 item 7): the message's assessment and, for a regulated one,
the values its answer must not echo run in one worker thread, off the event loop; and the echo
guard still gets those values."""

from __future__ import annotations

import sys
import threading
from types import FrameType

import pytest

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet
from assistant.settings import Settings
from assistant.turns import AnswerDelta, Conversation, TurnResult
from models.fakes import QueueModel
from routing.decision import GateDecision
from tests.support.privacy import ScriptedPrivacy

SSN = "536-22-4567"


# Frames of the thread machinery itself: a worker thread's loop outlives the jobs it runs.
MACHINERY = ("threading.py", "concurrent/futures/thread.py")


def _callers() -> list[FrameType]:
    """The live frames below the caller's caller (kept, so no two are ever confused)."""
    frames: list[FrameType] = []
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


class ThreadNotingPrivacy(ScriptedPrivacy):
    """Scripted privacy that notes the thread and the call stack of each gate call."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[str, int] = {}
        self.stacks: dict[str, list[FrameType]] = {}

    def assess(self, text: str, *, source: str) -> GateDecision:
        self.threads[f"assess:{source}"] = threading.get_ident()
        self.stacks[f"assess:{source}"] = _callers()
        return super().assess(text, source=source)

    def regulated_values(self, text: str) -> list[str]:
        self.threads["regulated_values"] = threading.get_ident()
        self.stacks["regulated_values"] = _callers()
        return [SSN] if SSN in text else []


@pytest.mark.asyncio
async def test_a_regulated_message_is_assessed_and_masked_in_one_worker_thread() -> None:
    privacy = ThreadNotingPrivacy()
    local = QueueModel([f"I see {SSN} there."], name="local", kind="local")
    pipeline = ChatPipeline(settings=Settings(), models=ModelSet(local=local, hosted=[]), privacy=privacy)
    conversation = Conversation(id="t1", principal=Principal(user_id="u1"))
    events = [e async for e in pipeline.run(conversation, f"My SSN is {SSN}, keep it safe.")]
    result = events[-1]
    assert isinstance(result, TurnResult) and result.receipt.tier.value == "regulated"
    worker = privacy.threads["assess:message"]
    assert privacy.threads["regulated_values"] == worker != threading.get_ident()
    # One job, not two that happened to run on the same worker: a frame of ours calls both.
    shared = [
        frame
        for frame in privacy.stacks["regulated_values"]
        if any(frame is other for other in privacy.stacks["assess:message"])
        and not frame.f_code.co_filename.endswith(MACHINERY)
    ]
    assert shared
    shown = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert SSN not in shown  # the echo guard got the values from that same hop
