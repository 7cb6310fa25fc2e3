"""A new chat's first writes arrive at once (Chainlit names the thread while the user message and
the answer are stored): none may be lost, and the thread stays its first writer's. Real SQLite."""

from __future__ import annotations

import asyncio

from chainlit.context import init_http_context
from chainlit.user import User as ChainlitUser

from assistant.governance.component import build_governance
from assistant.governance.requester import acting_as
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from assistant.ui.datalayer import data_layer_for

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)


def step(step_id: str, thread_id: str) -> dict:
    return {
        "id": step_id,
        "threadId": thread_id,
        "type": "user_message",
        "output": step_id,
        "createdAt": step_id,
    }


async def test_concurrent_first_writes_of_a_new_thread_are_all_kept(data_dir) -> None:
    gov = build_governance(GovernanceSettings(passwords=FAST), data_dir)
    try:
        gov.accounts.add_user(username="alice", password="alice password")
        layer = data_layer_for(gov)
        init_http_context(user=ChainlitUser(identifier="alice"))
        for round_ in range(5):
            thread_id = f"t{round_}"
            steps = [step(f"2026-01-01T10:00:0{n}Z-{round_}", thread_id) for n in range(6)]
            await asyncio.gather(
                layer.update_thread(thread_id, name="first question"),
                *(layer.create_step(s) for s in steps),  # type: ignore[arg-type]
            )
            thread = await layer.get_thread(thread_id)
            assert thread is not None and thread["name"] == "first question"
            assert {s["id"] for s in thread["steps"]} == {s["id"] for s in steps}
        # Someone else's concurrent writes to alice's thread are still refused.
        with acting_as("bob"):
            await asyncio.gather(*(layer.create_step(step(f"b{n}", "t0")) for n in range(3)))  # type: ignore[arg-type]
        thread = await layer.get_thread("t0")
        assert thread is not None and not any(s["id"].startswith("b") for s in thread["steps"])
    finally:
        gov.close()
