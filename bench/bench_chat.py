"""Overhead of `confidante chat` on the local model vs a bare llama-cpp-python call.

Both run in this process on the same GGUF with the same messages (captured from the pipeline's
own request), max_tokens and temperature, alternating runs so drift hits both alike. Prints time
to first token and tokens/s for each and the ratio ours/bare. Goal: overhead under 10 %.

    .venv/bin/python bench/bench_chat.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.identity import LOCAL_OPERATOR
from assistant.services import build_services, resolve_local_model
from assistant.settings import load_settings
from assistant.turns import AnswerDelta, Conversation, TurnResult
from models.base import ChatRequest

PROMPT = "Explain in three sentences why the sky is blue."
MAX_TOKENS = 64


def bare_call(llm, request: ChatRequest) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    for chunk in llm.create_chat_completion(
        messages=[m.model_dump() for m in request.messages],
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        stream=True,
    ):
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            first = first or time.perf_counter()
            parts.append(text)
    total = time.perf_counter() - started
    # Counted the way the pipeline counts: tokenize the answer text.
    tokens = len(llm.tokenize("".join(parts).encode(), add_bos=False, special=False))
    return ((first or started) - started) * 1000, total, tokens


async def ours(services, captured: list[ChatRequest]) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """Measured like the bare call, from the consumer's side: first and last answer delta."""
    conversation = Conversation(id=str(uuid.uuid4()), principal=LOCAL_OPERATOR)
    started = time.perf_counter()
    first = last = None
    result = None
    async for event in services.pipeline.run(conversation, PROMPT):
        if isinstance(event, AnswerDelta) and event.text:
            first = first or time.perf_counter()
            last = time.perf_counter()
        result = event
    assert isinstance(result, TurnResult) and first is not None and last is not None
    return (first - started) * 1000, last - first, result.usage.completion_tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from llama_cpp import Llama

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        settings.models.local.max_tokens = MAX_TOKENS
        settings.chat.answer_reserve_tokens = MAX_TOKENS
        settings.models.local.temperature = 0.0
        settings.reliability.cache_enabled = False
        # "pipeline": gate + routing + streaming; "product": also knowledge, audit, budgets.
        core = build_services(settings, with_governance=False)
        full = build_services(settings, models=core.models, privacy=core.privacy)
        local = core.models.local
        captured: list[ChatRequest] = []
        original = local.stream

        def capture(request: ChatRequest):  # type: ignore[no-untyped-def]
            captured.append(request)
            return original(request)

        local.stream = capture  # type: ignore[method-assign]
        local.wait_ready()  # type: ignore[attr-defined]
        llm = Llama(
            model_path=str(resolve_local_model(settings.models.local, settings.data_dir)),
            n_ctx=settings.models.local.context_window,
            n_threads=settings.models.local.threads,
            seed=settings.models.local.seed,
            verbose=False,
        )
        asyncio.run(ours(core, captured))  # warm-up, and capture the exact request
        asyncio.run(ours(full, captured))
        bare_call(llm, captured[0])
        rows: dict[str, list[tuple[float, float]]] = {"bare": [], "pipeline": [], "product": []}
        for _ in range(args.runs):
            ttft, total, tokens = bare_call(llm, captured[0])
            rows["bare"].append((ttft, tokens / max(1e-6, total - ttft / 1000)))
            for name, services in (("pipeline", core), ("product", full)):
                ttft, span, tokens = asyncio.run(ours(services, captured))
                rows[name].append((ttft, tokens / max(1e-6, span)))
        full.close()
    report(rows, args.runs)


def report(rows: dict[str, list[tuple[float, float]]], runs: int) -> None:
    med = {
        k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in rows.items()
    }
    print(f"local chat, {runs} runs each, max_tokens={MAX_TOKENS}, medians (TTFT = request to first token)")
    print(f"{'':10}{'TTFT ms':>10}{'tokens/s':>10}")
    for name, (ttft, tps) in med.items():
        print(f"{name:10}{ttft:10.1f}{tps:10.1f}")
    bare_ttft, bare_tps = med["bare"]
    for name in ("pipeline", "product"):
        ttft, tps = med[name]
        print(
            f"{name}: TTFT ratio {ttft / bare_ttft:.3f} (+{ttft - bare_ttft:.0f} ms), "
            f"tokens/s ratio {tps / bare_tps:.3f}; "
            f"streaming overhead {max(0.0, bare_tps / tps - 1) * 100:.1f} % "
            "(goal < 10 %)"
        )
    print("TTFT difference = the privacy gate (+ retrieval, for product) before the model starts.")


if __name__ == "__main__":
    main()
