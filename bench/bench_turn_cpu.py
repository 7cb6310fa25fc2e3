"""CPU per chat turn in one process, with and without this session's savings, interleaved.

The app's services (real gate, knowledge base, governance on SQLite, audit, budgets) answer
public questions from an instant scripted hosted stub, as in `bench_load.py`, but in process, so
the figure is the turn's own CPU (all threads: `time.process_time`) without the websocket layer.
A session asks three questions; its first message is also assessed for the thread's title, as
the app's data layer does. Two variants run in alternating rounds in the same process:

- `before`: the gate asked again for the same text (no decision memo), one audit transaction per
  record, an empty knowledge base still searched;
- `after`: the code as it is.

    .venv/bin/python bench/bench_turn_cpu.py [--sessions 10] [--rounds 3] [--documents]

`--documents` ingests a small document first, so the knowledge base is searched in both variants
(the figure for a deployment that has documents).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.proxy import FaultProxy
from tests.support.servers import free_port

QUESTIONS = (
    "What is a good way to structure a weekly team meeting?",
    "Give me three tips for writing a clear status update.",
    "How do I politely decline a meeting invitation?",
)
ANSWER = ("Here ", "is ", "a ", "short ", "answer ", "from ", "the ", "stub.")


@contextmanager
def before_variant(services) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The previous behaviour, restored by patching the three changed places."""
    from routing.decision_memo import DecisionMemo

    knowledge = services.knowledge
    with (
        mock.patch.object(DecisionMemo, "get", lambda *_args: None),
        _audit_per_record(),
        mock.patch.object(knowledge, "search", knowledge.retriever.search) if knowledge else _nothing(),
    ):
        yield


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def _audit_per_record() -> Iterator[None]:
    from assistant.governance.audit import AuditTrail

    batch = AuditTrail.record_many

    def one_by_one(self, events):  # type: ignore[no-untyped-def]
        return [record for event in events for record in batch(self, [event])]

    with mock.patch.object(AuditTrail, "record_many", one_by_one):
        yield


async def session(services, number: int) -> None:  # type: ignore[no-untyped-def]
    from assistant.identity import LOCAL_OPERATOR
    from assistant.turns import Conversation

    conversation = Conversation(id=f"bench-{number}", principal=LOCAL_OPERATOR)
    for index, question in enumerate(QUESTIONS):
        text = f"{question} (chat {number})"  # numbered: no answer comes from the exact cache
        if index == 0:  # the data layer titles a new thread from its first message, through the gate
            services.privacy.assess(text, source="message")
        async for _event in services.pipeline.run(conversation, text):
            pass


def cpu_per_turn(services, first: int, sessions: int) -> float:  # type: ignore[no-untyped-def]
    async def run() -> None:
        for number in range(first, first + sessions):
            await session(services, number)

    started = time.process_time()
    asyncio.run(run())
    return 1000 * (time.process_time() - started) / (sessions * len(QUESTIONS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--documents", action="store_true")
    args = parser.parse_args()
    proxy = FaultProxy(upstream_port=free_port()).start()
    proxy.set_fault("script", times=None, chunks=ANSWER)
    root = Path(tempfile.mkdtemp(prefix="bench-turn-cpu-"))
    os.environ.update(
        OPENAI_API_KEY="bench", OPENAI_BASE_URL=proxy.base_url, CONFIDANTE_DATA_DIR=str(root),
        CONFIDANTE_CONFIG=str(root / "absent.toml"), CONFIDANTE_MODELS__LOCAL__PROFILE="small",
        CONFIDANTE_LOGGING__LEVEL="WARNING",
    )  # fmt: skip
    from assistant.services import build_services
    from assistant.settings import load_settings

    services = build_services(load_settings())
    if args.documents and services.knowledge is not None:
        doc = root / "meetings.md"
        doc.write_text("# Meetings\n\nA weekly team meeting has an agenda, a time box and written notes.\n")
        services.knowledge.ingest_file(doc, owner="bench", public=True)
    try:
        cpu_per_turn(services, 0, 2)  # warm-up: lazy loads are not in the figures
        figures: dict[str, list[float]] = {"before": [], "after": []}
        number = 100
        for _ in range(args.rounds):
            with before_variant(services):
                figures["before"].append(cpu_per_turn(services, number, args.sessions))
            figures["after"].append(cpu_per_turn(services, number + args.sessions, args.sessions))
            number += 2 * args.sessions
    finally:
        services.close()
        proxy.stop()
    before, after = (sorted(figures[k])[len(figures[k]) // 2] for k in ("before", "after"))
    turns = args.rounds * args.sessions * len(QUESTIONS)
    print(f"{turns} turns per variant, {args.rounds} alternating rounds, documents: {args.documents}")
    print(f"CPU per turn (median of rounds): before {before:.1f} ms, after {after:.1f} ms")
    rounds = {k: [round(v, 1) for v in values] for k, values in figures.items()}
    print(f"each round: before {rounds['before']}, after {rounds['after']}")
    print(f"after / before = {after / before:.2f} ({100 * (after - before) / before:+.0f} %)")


if __name__ == "__main__":
    main()
