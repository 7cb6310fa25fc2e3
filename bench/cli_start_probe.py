"""`confidante chat` with a clock on each start-up phase; run by bench/bench_cli_start.py only.

Runs the real command in process (`assistant.cli.main`) after wrapping the functions that make
each phase (settings, the gate's models, the local model's check and load, the database, the
knowledge base, the tools) with a timer; the code under test is whichever tree is on
PYTHONPATH, so an older commit is timed the same way. Functions a tree does not have are skipped.
Times are `time.monotonic()` (one clock for every process on Linux), written as JSON to the file
named by CLI_START_PROBE_OUT; the parent gives its own launch time in CLI_START_LAUNCHED.
It never changes what a phase does, only when it is seen to start and end.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

LAUNCHED = float(os.environ.get("CLI_START_LAUNCHED", time.monotonic()))
SPANS: list[dict[str, Any]] = []

# (module, attribute path, phase label). The first call of each is the start-up's.
TARGETS = (
    ("assistant.cli", "load_settings", "settings"),
    ("assistant.services", "resolve_local_model", "local model: sha256 check"),
    ("models.local", "LocalModel._tokenizer", "local model: tokenizer"),
    ("models.local", "LocalModel._load", "local model: load"),
    ("assistant.services", "build_privacy", "gate (all)"),
    ("routing.analyzer", "load_spacy_pipeline", "gate: spaCy sm"),
    ("routing.analyzer", "load_person_voter", "gate: spaCy md voter"),
    ("routing.analyzer", "build_analyzer", "gate: Presidio"),
    ("routing.token_ner", "TokenNer.load", "gate: Rampart"),
    ("routing.contextual", "build_contextual", "gate: contextual"),
    ("assistant.governance.component", "build_governance", "database"),
    ("assistant.services", "build_knowledge", "knowledge (Chroma)"),
    ("assistant.tools.wiring", "build_chat_tools", "tools"),
    ("assistant.services", "build_services", "build_services (all)"),
)


def _record(label: str, start: float) -> None:
    end, thread = time.monotonic() - LAUNCHED, threading.current_thread().name
    SPANS.append({"phase": label, "start": start - LAUNCHED, "end": end, "thread": thread})


def _timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            _record(label, start)

    return wrapper


def _wrap(module_name: str, path: str, label: str) -> None:
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        return
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent, None)
    if owner is not None and callable(getattr(owner, name, None)):
        setattr(owner, name, _timed(label, getattr(owner, name)))


def _mark_turn_start() -> None:
    """`ready`: the pipeline is handed the message (everything before it is start-up)."""
    from assistant.pipeline import ChatPipeline

    run = ChatPipeline.run

    def marked(self: Any, *args: Any, **kwargs: Any) -> Any:
        _record("ready (turn starts)", time.monotonic())
        return run(self, *args, **kwargs)

    ChatPipeline.run = marked  # type: ignore[method-assign]


def main() -> None:
    started = time.monotonic()
    SPANS.append({"phase": "interpreter start", "start": 0.0, "end": started - LAUNCHED, "thread": "main"})
    import assistant.cli as cli

    _record("imports (command)", started)
    wrapping = time.monotonic()
    for module_name, path, label in TARGETS:
        _wrap(module_name, path, label)
    # The modules wrapped above are imported now rather than when first used: shown apart.
    _record("imports (modules the probe wraps)", wrapping)
    _mark_turn_start()
    try:
        cli.main(["chat", *sys.argv[1:]], prog_name="confidante")
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    with open(os.environ["CLI_START_PROBE_OUT"], "w") as out:
        json.dump({"spans": SPANS, "exit": code}, out)
    sys.stdout.flush()
    raise SystemExit(code)


if __name__ == "__main__":
    main()
