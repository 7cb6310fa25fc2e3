"""First-token time of a regulated tool turn on the in-process model, with and without saved prefixes.

A regulated turn offers the local model the built-in tools; their definitions sit in the prompt's
opening (the system block). The one llama.cpp context keeps only the last prompt it read, so a
tool turn after a tool-free request (a fallback answer) and a summary-sized one read that opening
again. Two `LocalModel`s on the same GGUF in this one process, used one at a time, alternating
within each round so both see the same machine load: "before" with `prefix_cache_mb=0` (what the
app did), "after" with the default (models/prefix_states.py). Each round, per model:

  (a) warm:  a tool turn right after another tool turn (the prefix is in the context);
  (b) after: a tool-free request and a summary-sized request, then the tool turn.

Deterministic decoding (temperature 0), a question that needs no tool, a few tokens each: only the
time to the first event is measured. Prints per-round figures, medians, the prefix's size in
tokens and bytes, the store's actions, RSS and the load average before and after.

    .venv/bin/python bench/bench_local_prefix.py --model data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
    .venv/bin/python bench/bench_local_prefix.py --model ... --rounds 3 --summary-tokens 1200 --tools 5
    .venv/bin/python bench/bench_local_prefix.py --model ... --library-cache  # + LlamaRAMCache's save
    .venv/bin/python bench/bench_local_prefix.py --model ... --server  # llama-server's own cache instead

`--server` runs the same sequence once against `llama-server` (`make llama-server`, one slot) and
prints, per request, the prompt tokens it evaluated and those it took from its cache (`timings`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.settings import Settings  # noqa: E402
from assistant.tools.builtin import builtin_tools  # noqa: E402
from assistant.tools.loop import definitions  # noqa: E402
from models.base import ChatMessage, ChatRequest, StreamEnd, ToolDefinition  # noqa: E402
from models.local import LocalModel  # noqa: E402
from models.settings import LocalModelSettings  # noqa: E402

TOOL_QUESTION = "Say hello to the new colleague in one short sentence."
FALLBACK_QUESTION = "What is a good name for a team offsite?"
SUMMARY_SYSTEM = "Summarize the document for the reader in three sentences."
# Plain filler prose, repeated to the summary's size (nobody's data).
SUMMARY_SENTENCE = (
    "The quarterly planning notes describe the schedule for the new office, the order of the "
    "moves, the rooms that are booked for training, and the questions that are still open. "
)


def tool_definitions(count: int) -> tuple[ToolDefinition, ...]:
    """The built-in tools as a regulated turn offers them: the two every deployment has, and with
    `count` 5 the document tools and `ask_a_person` too (their run-time services are not needed
    for their definitions)."""
    stub: Any = object()
    tools = builtin_tools(
        knowledge=stub if count >= 4 else None,
        escalations=stub if count >= 5 else None,
        classifier=stub,
    )
    return definitions(tools)


def tool_turn(system: str, tools: tuple[ToolDefinition, ...], question: str) -> ChatRequest:
    messages = [ChatMessage(role="system", content=system), ChatMessage(role="user", content=question)]
    return ChatRequest.of(messages, max_tokens=4, temperature=0.0, tools=tools)


def fallback_turn(system: str) -> ChatRequest:
    messages = [
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content=FALLBACK_QUESTION),
    ]
    return ChatRequest.of(messages, max_tokens=4, temperature=0.0)


def summary_request(model: LocalModel, tokens: int) -> ChatRequest:
    per = max(1, model.count_tokens(SUMMARY_SENTENCE))
    text = SUMMARY_SENTENCE * max(1, tokens // per)
    messages = [ChatMessage(role="system", content=SUMMARY_SYSTEM), ChatMessage(role="user", content=text)]
    return ChatRequest.of(messages, max_tokens=4, temperature=0.0, background=True)


async def first_event_ms(model: LocalModel, request: ChatRequest) -> float:
    """Milliseconds from the request to its first event (text, tool call or end)."""
    started = time.monotonic()
    first: float | None = None
    async for event in model.stream(request):
        first = first if first is not None else (time.monotonic() - started) * 1000
        if isinstance(event, StreamEnd):
            break
    assert first is not None
    return first


async def one_round(
    model: LocalModel, system: str, tools: tuple[ToolDefinition, ...], summary: int
) -> tuple[float, float]:
    await first_event_ms(model, tool_turn(system, tools, "Say hello in five words."))
    warm = await first_event_ms(model, tool_turn(system, tools, TOOL_QUESTION))
    await first_event_ms(model, fallback_turn(system))
    await first_event_ms(model, summary_request(model, summary))
    after = await first_event_ms(model, tool_turn(system, tools, TOOL_QUESTION))
    return warm, after


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def row(warm: float, cold: float) -> str:
    return f"(a) warm {warm:7.0f} ms   (b) after other requests {cold:7.0f} ms"


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def library_cache_probe(path: Path, system: str, tools: tuple[ToolDefinition, ...], context: int) -> None:
    """What `Llama.set_cache(LlamaRAMCache())` would keep per completion: its `save_state`."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=context, n_threads=1, n_threads_batch=1, verbose=False)
    request = tool_turn(system, tools, TOOL_QUESTION)
    messages: Any = [m.wire() for m in request.messages]
    wired: Any = [t.wire() for t in tools]
    llm.create_chat_completion(
        messages=messages,
        tools=wired,
        max_tokens=1,
        temperature=0.0,
    )
    started = time.monotonic()
    state = llm.save_state()
    took = (time.monotonic() - started) * 1000
    print(
        f"LlamaRAMCache entry after one tool turn ({state.n_tokens} tokens): counted "
        f"{state.llama_state_size / 1e6:.1f} MB, plus an uncounted logits copy of "
        f"{state.scores.nbytes / 1e6:.1f} MB; save_state took {took:.0f} ms (done after every completion)"
    )


def server_probe(path: Path, system: str, tools: tuple[ToolDefinition, ...], summary: int) -> None:
    """The same sequence against llama.cpp's own server: what its slot and prompt caches keep."""
    import tempfile

    import httpx

    from tests.support.parallel_server import ParallelLlamaServer

    def ask(request: ChatRequest) -> str:
        body: dict[str, Any] = {"messages": [m.wire() for m in request.messages], "max_tokens": 4}
        body |= {"temperature": 0.0, "tools": [t.wire() for t in request.tools] or None}
        reply = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=600).json()
        timings = reply.get("timings", {})
        return f"evaluated {timings.get('prompt_n')} prompt tokens, {timings.get('cache_n')} from its cache"

    vocab = LocalModel(path, LocalModelSettings())
    with tempfile.TemporaryDirectory() as log_dir:
        server = ParallelLlamaServer(path, Path(log_dir) / "server.log", slots=1, n_ctx=4096)
        server.start()
        try:
            print(f"llama-server, 1 slot: tool turn:          {ask(tool_turn(system, tools, TOOL_QUESTION))}")
            print(f"llama-server, 1 slot: tool-free request:  {ask(fallback_turn(system))}")
            print(f"llama-server, 1 slot: summary request:    {ask(summary_request(vocab, summary))}")
            print(f"llama-server, 1 slot: tool turn again:    {ask(tool_turn(system, tools, 'Say hello.'))}")
        finally:
            server.stop()


async def main(args: argparse.Namespace) -> None:
    system = Settings().chat.system_prompt
    tools = tool_definitions(args.tools)
    if args.server:
        server_probe(args.model, system, tools, args.summary_tokens)
        return
    base: dict[str, Any] = {"profile": args.profile, "supports_tools": True}
    before = LocalModel(args.model, LocalModelSettings.model_validate({**base, "prefix_cache_mb": 0}))
    after = LocalModel(args.model, LocalModelSettings.model_validate(base))
    print(
        f"model {args.model.name}, {len(tools)} tools, summary ~{args.summary_tokens} tokens, load {load()}"
    )
    figures: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for n in range(args.rounds):
        for name, model in (
            (("before", before), ("after", after)) if n % 2 == 0 else (("after", after), ("before", before))
        ):
            warm, cold = await one_round(model, system, tools, args.summary_tokens)
            figures[name].append((warm, cold))
            print(f"round {n + 1} {name:6}: {row(warm, cold)}   load {load()}")
    for name in ("before", "after"):
        warms, colds = zip(*figures[name], strict=True)
        print(f"median  {name:6}: {row(statistics.median(warms), statistics.median(colds))}")
    states = after.prefix_states
    kept = [len(k) for k in states.prefixes()]
    size, bound = states.size / 1e6, states.capacity_bytes / 1e6
    print(f"prefix states kept: {len(states)} ({kept} tokens), {size:.1f} MB of a {bound:.0f} MB bound")
    print(f"actions (after): {dict(states.actions)}; RSS {rss_mb():.0f} MB (both models); load {load()}")
    before.close()
    after.close()
    if args.library_cache:
        library_cache_probe(
            args.model, system, tools, LocalModelSettings(profile=args.profile).context_window
        )


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress, when piped
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, required=True, help="the GGUF (the standard profile's Qwen 1.5B)"
    )
    parser.add_argument("--profile", choices=("standard", "small"), default="standard")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tools", type=int, choices=(2, 4, 5), default=5)
    parser.add_argument("--summary-tokens", type=int, default=1200)
    parser.add_argument("--library-cache", action="store_true")
    parser.add_argument("--server", action="store_true")
    asyncio.run(main(parser.parse_args()))
