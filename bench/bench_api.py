"""What the governed API adds over calling the same upstream directly.

One real OpenAI-compatible upstream (`llama_cpp.server` with the bundled model, greedy, on
loopback) is called two ways with the official SDK, alternating, same prompt, same token cap:
directly, and through `confidante serve`'s `/v1/chat/completions` (model `confidante`: gate,
routing to the hosted upstream, audit, budgets, streaming back). Prints TTFT and total time
medians and their ratios, and the gate's own time per request measured in this process.

    .venv/bin/python bench/bench_api.py --runs 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import openai  # noqa: E402

from tests.browser.app_server import AppServer  # noqa: E402
from tests.support.servers import SERVER_MODEL_ALIAS, LlamaServer, bundled_gguf  # noqa: E402

PROMPT = "List three practical tips for writing a clear weekly status update."
MAX_TOKENS = 64


def _timed(client: openai.OpenAI, model: str, system: str | None) -> tuple[float, float]:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": PROMPT}
    ]
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model=model,
        messages=messages,
        stream=True,
        max_tokens=MAX_TOKENS,
        temperature=0.0,  # type: ignore[arg-type]
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    return (first if first is not None else total), total


def _gate_ms(runs: int) -> float:
    from assistant.privacy_gate import build_gate_privacy
    from assistant.settings import load_settings

    privacy = build_gate_privacy(load_settings())
    privacy.assess(PROMPT, source="message")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        privacy.assess(PROMPT, source="message")
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-api-"))
    upstream = LlamaServer(bundled_gguf(), root / "llama.log", threads=2)
    upstream.start()
    env = {
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "bench",
        "CONFIDANTE_MODELS__HOSTED__MODELS__STRONG": SERVER_MODEL_ALIAS,
        "CONFIDANTE_MODELS__HOSTED__MODELS__CHEAP": SERVER_MODEL_ALIAS,
        "CONFIDANTE_MODELS__HOSTED__MAX_TOKENS": str(MAX_TOKENS),
        "CONFIDANTE_MODELS__HOSTED__TEMPERATURE": "0",
        "CONFIDANTE_LOGGING__LEVEL": "WARNING",
    }
    app = AppServer(root / "data", root / "serve.log", env=env)
    app.start()
    try:
        app.cli("users", "add", "bench", "--no-password")
        key = app.cli("keys", "create", "bench", "--rate", "1000").stdout.strip().splitlines()[-1]
        direct = openai.OpenAI(base_url=upstream.base_url, api_key="bench", max_retries=0)
        gateway = openai.OpenAI(base_url=f"{app.base_url}/v1", api_key=key, max_retries=0)
        from assistant.settings import load_settings

        system = load_settings().chat.system_prompt
        _timed(direct, SERVER_MODEL_ALIAS, system)  # warm both paths
        _timed(gateway, "confidante", None)
        pairs = [
            (_timed(direct, SERVER_MODEL_ALIAS, system), _timed(gateway, "confidante", None))
            for _ in range(args.runs)
        ]
    finally:
        app.stop()
        upstream.stop()
    d_ttft = statistics.median(p[0][0] for p in pairs)
    d_total = statistics.median(p[0][1] for p in pairs)
    g_ttft = statistics.median(p[1][0] for p in pairs)
    g_total = statistics.median(p[1][1] for p in pairs)
    gate = _gate_ms(50)
    print(f"runs: {args.runs}, prompt {len(PROMPT)} chars, up to {MAX_TOKENS} tokens, greedy")
    print(f"direct:  TTFT {d_ttft * 1000:.0f} ms  total {d_total * 1000:.0f} ms")
    print(f"gateway: TTFT {g_ttft * 1000:.0f} ms  total {g_total * 1000:.0f} ms")
    print(f"ratio gateway/direct: TTFT {g_ttft / d_ttft:.2f}x  total {g_total / d_total:.2f}x")
    overhead_ms = (g_total - d_total) * 1000 - gate
    print(
        f"gate alone (median, this process): {gate:.1f} ms; total overhead minus the gate: "
        f"{overhead_ms:.0f} ms ({100 * overhead_ms / (d_total * 1000):+.1f} %)"
    )


if __name__ == "__main__":
    main()
