"""Bounded thread pools, one per kind of blocking work, so long work can never starve short work.

Why not `asyncio.to_thread`: it runs everything on the event loop's default executor, which on
a 2-core machine has min(32, cores + 4) = 6 workers shared by every call in the process. A few
calls that hold a worker for seconds (an upload's parser child, a summary's sections through the
gate, retrieval waiting on the local model's queue, the dashboard's figures, a service start-up)
left a new chat's data-layer reads queued behind them: its page stayed on the welcome screen
(issue 17). So each kind of work gets its own pool, sized for it:

- `Lane.IO`: short database and file I/O that a page or a turn waits on (the data layer, audit
  records, the job store, keys, escalations). Many workers: they mostly wait on the database.
- `Lane.INTERACTIVE`: CPU work on a waiting user's path, bounded per message (the sensitivity
  gate, pseudonymization, retrieval, sign-in hashing, a tool's lookup).
- `Lane.BACKGROUND`: work that may take seconds or wait on something else (parsing and indexing
  uploads, summaries, admin figures, the audit purge, start-up, a terminal prompt).

A lane only ever waits for its own kind: the test `tests/test_executor_lanes.py` holds every
worker of one lane and shows the others still answer. Like `asyncio.to_thread`, the caller's
context variables (the requester) travel with the call, and a call cancelled before a worker took
it never runs. A call already running is not interrupted (Python cannot stop a thread): work
that can run long must watch its own cancel flag, as the local model's worker does.

This module must never be used for work that waits on another call in the same lane (a lane
holding all its workers that way would deadlock), and never be sized from user input.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Lane(StrEnum):
    IO = "io"
    INTERACTIVE = "interactive"
    BACKGROUND = "background"


# Workers per lane: a lane is for separation, not parallelism. INTERACTIVE is CPU-bound and the
# gate already spreads one message over both cores (its own pool of 2): more gates at once share
# the cores, so every turn's gate ends late and misses the hosted deadline together. Measured
# with `bench/bench_load.py --sessions 100` at load 5-7: interactive 2 gave 0 local fallbacks and
# 0 errors; 3 gave 15-23 fallbacks; 6 gave 80 fallbacks and 14 timed-out turns. IO: SQLite
# serializes writes anyway. BACKGROUND: mostly waiting (parser children, the local model).
LANE_WORKERS: dict[Lane, int] = {Lane.IO: 4, Lane.INTERACTIVE: 2, Lane.BACKGROUND: 4}

_pools: dict[Lane, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def pool(lane: Lane) -> ThreadPoolExecutor:
    """The lane's pool, made on first use (threads start lazily, one per queued call, up to the bound)."""
    with _pools_lock:
        executor = _pools.get(lane)
        if executor is None:
            executor = ThreadPoolExecutor(max_workers=LANE_WORKERS[lane], thread_name_prefix=f"lane-{lane}")
            _pools[lane] = executor
        return executor


async def run_in(lane: Lane, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn(*args, **kwargs)` on the lane's pool with the caller's context, as `to_thread` does."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await loop.run_in_executor(pool(lane), call)


async def run_io(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Short database or file I/O: see `Lane.IO`."""
    return await run_in(Lane.IO, fn, *args, **kwargs)


async def run_interactive(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Bounded CPU work a waiting user needs: see `Lane.INTERACTIVE`."""
    return await run_in(Lane.INTERACTIVE, fn, *args, **kwargs)


async def run_background(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Work that may take seconds or wait on something else: see `Lane.BACKGROUND`."""
    return await run_in(Lane.BACKGROUND, fn, *args, **kwargs)
