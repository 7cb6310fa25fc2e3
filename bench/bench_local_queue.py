"""Local-only morning rush: N users ask Q questions each at once, answered by the private model only.

A real `confidante serve` with no hosted model configured, N signed-in users, one Socket.IO chat
session each (the frontend's protocol). Every turn goes to the private model through its fair
queue. Prints refusals ("busy"), whether every user's first question was answered before any
user's third (per-user order), TTFT p50/p95 as the users saw it (queue wait included), the wall
time and the load average. With `--server-parallel N` the private model is a llama.cpp server
with N slots (`make llama-server`) instead of the in-process worker.

    .venv/bin/python bench/bench_local_queue.py --users 10 --questions 3
    .venv/bin/python bench/bench_local_queue.py --users 10 --questions 3 --server-parallel 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.app_server import AppServer  # noqa: E402
from tests.support.chat_socket import ChatSocket, sign_in  # noqa: E402
from tests.support.parallel_server import ParallelLlamaServer  # noqa: E402
from tests.support.servers import bundled_gguf  # noqa: E402

QUESTIONS = (
    "Suggest a name for a team offsite.",
    "Give me two tips for a clear status update.",
    "How do I politely decline a meeting?",
)
PASSWORD = "local-queue-bench-1"
BUSY_MARKERS = ("busy", "requests waiting")


@dataclass
class Turn:
    user: int
    question: int
    sent: float
    first_token: float | None
    refused: bool
    total_s: float
    chars: int


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _session(base_url: str, token: str, user: int, questions: int, turns: list[Turn]) -> str | None:
    socket = ChatSocket(base_url, token)
    try:
        await socket.connect()
        for number in range(1, questions + 1):
            sent = time.perf_counter()
            text = f"{QUESTIONS[(number - 1) % len(QUESTIONS)]} (user {user}, question {number})"
            timing = await socket.ask(text, timeout_s=900.0)
            first = None if timing.ttft_s is None else sent + timing.ttft_s
            refused = any(marker in timing.text for marker in BUSY_MARKERS)
            turns.append(Turn(user, number, sent, first, refused, timing.total_s, len(timing.text)))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await socket.close()
    return None


async def _rush(base_url: str, tokens: list[str], questions: int) -> tuple[list[Turn], list[str]]:
    turns: list[Turn] = []
    runs = (_session(base_url, token, user, questions, turns) for user, token in enumerate(tokens))
    errors = await asyncio.gather(*runs)
    return turns, [e for e in errors if e]


def _in_order(turns: list[Turn], questions: int) -> str:
    """Every user's first question answered before any user's last (by first-token time)."""
    firsts = [t.first_token for t in turns if t.question == 1 and t.first_token is not None]
    lasts = [t.first_token for t in turns if t.question == questions and t.first_token is not None]
    if not firsts or not lasts or questions < 3:
        return "n/a"
    return (
        "yes"
        if max(firsts) < min(lasts)
        else f"NO (last first {max(firsts):.1f} >= first last {min(lasts):.1f})"
    )


def _private_server(parallel: int, root: Path) -> ParallelLlamaServer:
    server = ParallelLlamaServer(
        bundled_gguf(), root / "llama-server.log", alias="private", slots=parallel, n_ctx=2048
    )
    server.start()
    return server


def _environment(args: argparse.Namespace, private: ParallelLlamaServer | None) -> dict[str, str]:
    env = {
        # Nothing hosted: every answer comes from the private model.
        "OPENAI_BASE_URL": "",
        "OPENAI_API_KEY": "",
        "CONFIDANTE_LOGGING__LEVEL": "WARNING",
        "CONFIDANTE_MODELS__LOCAL__PROFILE": args.profile,
        "CONFIDANTE_MODELS__LOCAL__MAX_TOKENS": str(args.max_tokens),
    }
    if private is not None:
        env["CONFIDANTE_MODELS__LOCAL__SERVER_URL"] = private.base_url
        env["CONFIDANTE_MODELS__LOCAL__SERVER_MODEL"] = private.alias
        env["CONFIDANTE_MODELS__LOCAL__SERVER_PARALLEL"] = str(args.server_parallel)
    return env


def _report(args: argparse.Namespace, turns: list[Turn], errors: list[str], wall: float) -> None:
    ttft = [t.first_token - t.sent for t in turns if t.first_token is not None and not t.refused]
    refused = sum(t.refused for t in turns)
    mode = f"llama-server, {args.server_parallel} slots" if args.server_parallel else "in process, 1 worker"
    print(f"local only ({args.profile} profile, {mode}, max_tokens {args.max_tokens})")
    print(f"{args.users} users x {args.questions} questions: {len(turns)} turns in {wall:.1f} s")
    print(f"refusals: {refused}; session errors: {len(errors)} {errors[:3]}")
    print(f"every user's first question answered before any user's last: {_in_order(turns, args.questions)}")
    print(f"TTFT as seen by the user (queue wait included): p50 {_percentile(ttft, 0.5):.1f} s, "
          f"p95 {_percentile(ttft, 0.95):.1f} s, max {max(ttft, default=float('nan')):.1f} s")  # fmt: skip
    answered = [t for t in turns if not t.refused]
    chars = sum(t.chars for t in answered) / max(1, len(answered))
    print(f"answers: {chars:.0f} characters on average; {len(answered) / wall:.2f} answers/s")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--profile", default="small", choices=("small", "standard"))
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--server-parallel", type=int, default=0, help="0: the in-process model")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-local-queue-"))
    private = _private_server(args.server_parallel, root) if args.server_parallel else None
    server = AppServer(root / "data", root / "serve.log", env=_environment(args, private))
    server.start()
    try:
        tokens = []
        for user in range(args.users):
            server.cli("users", "add", f"rush{user}", "--password-stdin", stdin=PASSWORD + "\n")
            tokens.append(asyncio.run(sign_in(server.base_url, f"rush{user}", PASSWORD)))
        asyncio.run(_rush(server.base_url, tokens[:1], 1))  # warm-up: model load, gate
        started = time.perf_counter()
        turns, errors = asyncio.run(_rush(server.base_url, tokens, args.questions))
        wall = time.perf_counter() - started
    finally:
        server.stop()
        if private is not None:
            private.stop()
    _report(args, turns, errors, wall)


if __name__ == "__main__":
    main()
