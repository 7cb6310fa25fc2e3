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
from assistant.turns import Conversation, TurnResult
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


async def ours(services, captured: list[ChatRequest]) -> TurnResult:  # type: ignore[no-untyped-def]
    conversation = Conversation(id=str(uuid.uuid4()), principal=LOCAL_OPERATOR)
    result = None
    async for event in services.pipeline.run(conversation, PROMPT):
        result = event
    assert isinstance(result, TurnResult)
    return result


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
        services = build_services(settings)
        local = services.models.local
        captured: list[ChatRequest] = []
        original = local.stream

        def capture(request: ChatRequest):  # type: ignore[no-untyped-def]
            captured.append(request)
            return original(request)

        local.stream = capture  # type: ignore[method-assign]
        local.wait_ready()  # type: ignore[attr-defined]
        llm = Llama(
            model_path=str(resolve_local_model(settings.models.local)),
            n_ctx=settings.models.local.context_window,
            n_threads=settings.models.local.threads,
            seed=settings.models.local.seed,
            verbose=False,
        )
        asyncio.run(ours(services, captured))  # warm-up both, and capture the exact request
        bare_call(llm, captured[0])
        rows: dict[str, list[tuple[float, float]]] = {"bare": [], "ours": []}
        for _ in range(args.runs):
            ttft, total, tokens = bare_call(llm, captured[0])
            rows["bare"].append((ttft, tokens / max(1e-6, total - ttft / 1000)))
            result = asyncio.run(ours(services, captured))
            gen_s = max(1e-6, (result.latency_ms - (result.ttft_ms or 0)) / 1000)
            rows["ours"].append((result.ttft_ms or 0.0, result.usage.completion_tokens / gen_s))
        services.close()
    report(rows, args.runs)


def report(rows: dict[str, list[tuple[float, float]]], runs: int) -> None:
    med = {
        k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in rows.items()
    }
    print(f"local chat, {runs} runs each, max_tokens={MAX_TOKENS}, medians")
    print(f"{'':8}{'TTFT ms':>10}{'tokens/s':>10}")
    for name, (ttft, tps) in med.items():
        print(f"{name:8}{ttft:10.1f}{tps:10.1f}")
    print(f"TTFT ratio ours/bare: {med['ours'][0] / med['bare'][0]:.3f}")
    print(f"tokens/s ratio ours/bare: {med['ours'][1] / med['bare'][1]:.3f}")
    overhead = max(med["ours"][0] / med["bare"][0], med["bare"][1] / med["ours"][1]) - 1
    print(f"overhead: {overhead * 100:.1f} % (goal < 10 %)")


if __name__ == "__main__":
    main()
