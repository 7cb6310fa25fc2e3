"""Load bench: N concurrent chat sessions over Socket.IO against a real `confidante serve`.

The hosted endpoint is a loopback stub that answers instantly with a scripted stream (the
recording proxy in script mode), so what is measured is the app's own cost: sign-in, the
websocket connect with the chat profile named (as the frontend does), the gate, routing, audit
and streaming. Prints connect errors, turn errors, TTFT p50/p95/p99, throughput, server CPU per
turn, and the server's RSS before, at peak and 60 s after the sessions close. Questions are
public, so every turn goes to the (instant) hosted stub.

    .venv/bin/python bench/bench_load.py --sessions 100 --questions 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.app_server import AppServer  # noqa: E402
from tests.support.chat_socket import ChatSocket, TurnTiming, sign_in  # noqa: E402
from tests.support.proxy import FaultProxy  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

QUESTIONS = (
    "What is a good way to structure a weekly team meeting?",
    "Give me three tips for writing a clear status update.",
    "How do I politely decline a meeting invitation?",
)
PASSWORD = "load-bench-pass-1"
ANSWER = ("Here ", "is ", "a ", "short ", "answer ", "from ", "the ", "stub.")


def _proc_stat(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and RSS bytes of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    rss_pages = int(fields[21])
    import os

    return ticks / os.sysconf("SC_CLK_TCK"), rss_pages * os.sysconf("SC_PAGE_SIZE")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _session(
    server: AppServer, token: str, questions: int, out: list[TurnTiming], number: int
) -> str | None:
    socket = ChatSocket(server.base_url, token)
    try:
        await socket.connect()
    except Exception as exc:
        return f"connect: {type(exc).__name__}"
    try:
        for index in range(questions):
            # Numbered, so no answer comes from the exact-answer cache (same user, same question).
            out.append(await socket.ask(f"{QUESTIONS[index % len(QUESTIONS)]} (chat {number})"))
    except Exception as exc:
        return f"turn: {type(exc).__name__}"
    finally:
        await socket.close()
    return None


async def _run(server: AppServer, token: str, sessions: int, questions: int) -> tuple[list, list]:
    timings: list[TurnTiming] = []
    runs = (_session(server, token, questions, timings, number) for number in range(sessions))
    errors = await asyncio.gather(*runs)
    return timings, [e for e in errors if e]


def _server_pid(server: AppServer) -> int:
    process = server._process  # the bench reads the server's own /proc entry
    assert process is not None
    return process.pid


def _wait_until_idle(pid: int, *, quiet_cpu_s: float = 0.05, limit_s: float = 300.0) -> float:
    """Seconds until the server uses under `quiet_cpu_s` of CPU in a second: start-up goes on in the
    background after the first answers (the local model reads a regulated tool turn's opening, ~970
    tokens), and that one-time work must not be charged to the turns measured next."""
    started = time.perf_counter()
    cpu, _ = _proc_stat(pid)
    while time.perf_counter() - started < limit_s:
        time.sleep(1.0)
        now, _ = _proc_stat(pid)
        if now - cpu < quiet_cpu_s:
            break
        cpu = now
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--env", nargs="*", default=[], help="extra KEY=VALUE for the server")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait before the last RSS")
    args = parser.parse_args()

    proxy = FaultProxy(upstream_port=free_port()).start()
    proxy.set_fault("script", times=None, chunks=ANSWER)
    root = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = {
        "OPENAI_BASE_URL": proxy.base_url,
        "OPENAI_API_KEY": "bench",
        "CONFIDANTE_LOGGING__LEVEL": "WARNING",
        **dict(item.split("=", 1) for item in args.env),
    }
    server = AppServer(root / "data", root / "serve.log", env=env)
    server.start()
    try:
        server.cli("users", "add", "loadbench", "--password-stdin", stdin=PASSWORD + "\n")
        token = asyncio.run(sign_in(server.base_url, "loadbench", PASSWORD))
        pid = _server_pid(server)
        # Warm-up: one session, so model and gate warm-up are not in the figures.
        asyncio.run(_run(server, token, 2, 3))
        idle_after = _wait_until_idle(pid)
        cpu0, rss0 = _proc_stat(pid)
        hosted0 = len(proxy.chat_exchanges())
        started = time.perf_counter()
        timings, errors = asyncio.run(_run(server, token, args.sessions, args.questions))
        wall = time.perf_counter() - started
        cpu1, rss_peak = _proc_stat(pid)
        hosted = len(proxy.chat_exchanges()) - hosted0
        time.sleep(args.settle)
        _, rss_after = _proc_stat(pid)
    finally:
        server.stop()
        proxy.stop()
    ttft = [t.ttft_s for t in timings if t.ttft_s is not None]
    turns = len(timings)
    mean_total = statistics.fmean([t.total_s for t in timings] or [0.0])
    cpu_per_turn_ms = 1000 * (cpu1 - cpu0) / max(turns, 1)
    print(f"server idle {idle_after:.1f} s after the warm-up (start-up's background work done)")
    print(f"sessions {args.sessions} x {args.questions} questions: {turns} turns in {wall:.1f} s")
    print(f"errors: {len(errors)} {sorted(set(errors))[:5]}")
    print(
        f"TTFT p50 {_percentile(ttft, 0.5):.3f} s  p95 {_percentile(ttft, 0.95):.3f} s  "
        f"p99 {_percentile(ttft, 0.99):.3f} s  (mean total {mean_total:.3f} s)"
    )
    print(f"throughput: {turns / wall:.1f} turns/s; server CPU per turn {cpu_per_turn_ms:.1f} ms")
    # Every question is public: a turn that is not one hosted request fell back to the local model
    # (a gate that finished past the hosted deadline), whose generation then dominates the CPU.
    print(f"hosted requests: {hosted} for {turns} turns ({turns - hosted:+d} not answered by the stub)")
    print(
        f"server RSS: after warm-up {rss0 / 2**20:.0f} MB, end of load {rss_peak / 2**20:.0f} MB, "
        f"{args.settle:.0f} s after close {rss_after / 2**20:.0f} MB "
        f"({100 * (rss_after - rss0) / rss0:+.1f} % vs warm-up)"
    )


if __name__ == "__main__":
    main()
