"""One long-lived app process for `bench/bench_faults.py --path ui`: chat turns as the web UI runs them.

It builds the services exactly as the UI's start-up does (`build_services` with governance, the
private model loaded before the first turn), then runs one turn per `run` line on stdin and prints
one line, `RESULT` and JSON: seconds from the message to the turn's result, its outcome, who answered,
what they answered, and the turn's time split where the code under test records one. Hosted models
are rebuilt before each turn (fresh breakers, as the bench's other paths do). It imports only what
every measured revision has, so `--before REV` runs it against an exported older tree (PYTHONPATH).

    PYTHONPATH=<tree> python bench/fault_turn_worker.py "Name three colours."
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid


async def serve(question: str) -> None:
    from assistant.identity import Principal
    from assistant.services import build_hosted_models, build_services
    from assistant.settings import Settings
    from assistant.turns import Conversation, TurnResult

    settings = Settings()
    services = build_services(settings)
    local = services.models.local
    warm = getattr(local, "wait_ready", None)
    if warm is not None:  # the UI's start-up loads the private model before anyone chats
        await asyncio.to_thread(warm)
    print("RESULT " + json.dumps({"ready": True}), flush=True)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "run":
        services.models.hosted[:] = build_hosted_models(settings, local.count_tokens)
        conversation = Conversation(id=f"bench-{uuid.uuid4()}", principal=Principal(user_id="bench"))
        started = time.perf_counter()
        result = None
        async for event in services.pipeline.run(conversation, question):
            if isinstance(event, TurnResult):
                result = event
        took = time.perf_counter() - started
        assert result is not None
        timing = getattr(result, "timing", None)
        print(
            "RESULT "
            + json.dumps(
                {
                    "turn_s": took,
                    "outcome": result.outcome,
                    "model": result.model,
                    "finish_reason": result.finish_reason,
                    "answer": result.answer,
                    "timing": timing.model_dump(mode="json") if timing is not None else None,
                }
            ),
            flush=True,
        )
    services.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
