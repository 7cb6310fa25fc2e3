"""What the governed API adds over calling the same upstream directly, before and after a change.

One OpenAI-compatible upstream is called with the official SDK, round-robin, same prompt, same
token cap: directly, and through `confidante serve`'s `/v1/chat/completions` (model `confidante`:
gate, routing to the hosted upstream, audit, budgets, streaming back). With `--before REV` a
second server runs the code of commit REV (exported with `git archive`, the working tree is not
touched) in the same round-robin, so before and after are measured under the same load. With
`--after REV` the "after" server runs commit REV too instead of the working tree (whose other,
uncommitted work would otherwise be measured with the change): `--before X~1 --after X` measures
exactly commit X.

Upstreams: `llama` (the bundled model behind `llama_cpp.server`, greedy; its time dominates and
varies with the machine's load) or `scripted` (an instant scripted stream: what remains is the
gateway's own time, in ms). Prints medians of TTFT and total, the ratios, and the gate's own
time per request (the gate itself, not the memoized `assess`).

    .venv/bin/python bench/bench_api.py --runs 8 --upstream llama --before HEAD~1
    .venv/bin/python bench/bench_api.py --upstream scripted --token-ms 50 --before X~1 --after X
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import openai  # noqa: E402

from bench.revisions import export_tree  # noqa: E402
from tests.browser import app_server  # noqa: E402
from tests.browser.app_server import AppServer  # noqa: E402
from tests.support.scripted_openai import ScriptedOpenAI, _chunk  # noqa: E402
from tests.support.servers import SERVER_MODEL_ALIAS, LlamaServer, bundled_gguf  # noqa: E402

PROMPT = "List three practical tips for writing a clear weekly status update."
MAX_TOKENS = 64
# Model-like tokens (sub-word pieces, a list marker first) so a paced stream looks like generation.
SCRIPTED_TOKENS = [
    "1",
    ".",
    " **",
    "Be",
    " brief",
    "**",
    ":",
    " say",
    " what",
    " changed",
    ".",
    "\n",
    "2",
    ".",
]


def _timed(client: openai.OpenAI, model: str, system: str | None) -> tuple[float, float]:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": PROMPT}
    ]
    started = time.perf_counter()
    first = None
    stream: Any = client.chat.completions.create(
        model=model,
        messages=messages,  # type: ignore[arg-type]
        stream=True,
        max_tokens=MAX_TOKENS,
        temperature=0.0,
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    return (first if first is not None else total), total


def _gate_ms(runs: int) -> float:
    from assistant.privacy_gate import build_gate_privacy
    from assistant.settings import load_settings

    # The gate itself, not `assess`: that one memoizes the decision per text, so a repeated prompt
    # would measure a dictionary look-up (the last session's bench printed 0.0 ms that way).
    gate = build_gate_privacy(load_settings()).gate
    gate.classify(PROMPT, source="message")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        gate.classify(PROMPT, source="message")
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


@contextlib.contextmanager
def _tree(path: Path) -> Iterator[None]:
    """Run `confidante` from another source tree (AppServer starts it with that tree as cwd)."""
    saved = app_server.REPO
    app_server.REPO = path
    try:
        yield
    finally:
        app_server.REPO = saved


def _gateway(root: Path, name: str, env: dict[str, str], tree: Path) -> tuple[AppServer, openai.OpenAI]:
    with _tree(tree):
        server = AppServer(root / name, root / f"{name}.log", env=env)
        server.start()
        server.cli("users", "add", "bench", "--no-password")
        key = server.cli("keys", "create", "bench", "--rate", "1000").stdout.strip().splitlines()[-1]
    return server, openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)


def _paced(scripted: ScriptedOpenAI, delay_s: float) -> None:
    """Send the scripted stream one chunk every `delay_s`, like a model generating tokens: the
    gateway's TTFT then shows how many tokens its output filter holds back before the first word."""
    base = scripted._server.RequestHandlerClass

    class Paced(base):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            scripted.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            for chunk in scripted.script.popleft():
                time.sleep(delay_s)
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

    scripted._server.RequestHandlerClass = Paced


def _upstream(kind: str, root: Path, token_ms: float) -> tuple[Any, str, str]:
    """The running upstream, its base URL and the model name to ask it for."""
    if kind == "scripted":
        scripted = ScriptedOpenAI().start()
        if token_ms > 0:
            _paced(scripted, token_ms / 1000)
        return scripted, scripted.base_url, "scripted"
    llama = LlamaServer(bundled_gguf(), root / "llama.log", threads=2)
    llama.start()
    return llama, llama.base_url, SERVER_MODEL_ALIAS


def _feed(upstream: Any) -> None:
    """The scripted upstream answers from a queue: one stream per call, cut at the token cap."""
    if isinstance(upstream, ScriptedOpenAI):
        chunks = [_chunk({"content": token}) for token in SCRIPTED_TOKENS]
        chunks.append(_chunk({}, "length"))  # cut at the cap: never served from the answer cache
        upstream.script.append(chunks)


def _line(name: str, pairs: list[tuple[float, float]], direct: tuple[float, float]) -> str:
    ttft = statistics.median(p[0] for p in pairs)
    total = statistics.median(p[1] for p in pairs)
    return (
        f"{name:8s} TTFT {ttft * 1000:7.1f} ms  total {total * 1000:8.1f} ms  "
        f"added TTFT {(ttft - direct[0]) * 1000:+7.1f} ms  "
        f"added total {(total - direct[1]) * 1000:+7.1f} ms  "
        f"ratio TTFT {ttft / direct[0]:.2f}x total {total / direct[1]:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--upstream", choices=("llama", "scripted"), default="llama")
    parser.add_argument("--before", metavar="REV", help="also run the gateway of this commit")
    parser.add_argument("--after", metavar="REV", help="run this commit as 'after' (default: the work tree)")
    parser.add_argument("--token-ms", type=float, default=0.0, help="scripted upstream: ms between chunks")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-api-"))
    upstream, base_url, model = _upstream(args.upstream, root, args.token_ms)
    env = {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "bench",
        "CONFIDANTE_MODELS__HOSTED__MODELS__STRONG": model,
        "CONFIDANTE_MODELS__HOSTED__MODELS__CHEAP": model,
        "CONFIDANTE_MODELS__HOSTED__MAX_TOKENS": str(MAX_TOKENS),
        "CONFIDANTE_MODELS__HOSTED__TEMPERATURE": "0",
        "CONFIDANTE_MODELS__LOCAL__PROFILE": "small",
        "CONFIDANTE_LOGGING__LEVEL": "WARNING",
    }
    servers: list[AppServer] = []
    try:
        gateways: dict[str, openai.OpenAI] = {}
        if args.before:
            server, gateways[f"before ({args.before})"] = _gateway(
                root, "before", env, export_tree(args.before, root)
            )
            servers.append(server)
        after = export_tree(args.after, root) if args.after else REPO
        server, gateways[f"after ({args.after or 'work tree'})"] = _gateway(root, "after", env, after)
        servers.append(server)
        direct = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
        from assistant.settings import load_settings

        system = load_settings().chat.system_prompt
        clients = [("direct", direct, model, system)] + [
            (n, c, "confidante", None) for n, c in gateways.items()
        ]
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in clients}
        for run in range(args.runs + 1):  # the first round warms every path and is dropped
            for name, client, asked, sys_prompt in clients:
                _feed(upstream)
                timing = _timed(client, asked, sys_prompt)
                if run:
                    samples[name].append(timing)
    finally:
        for server in servers:
            server.stop()
        upstream.stop()
    base = samples["direct"]
    direct_medians = (statistics.median(p[0] for p in base), statistics.median(p[1] for p in base))
    print(
        f"upstream: {args.upstream}, runs: {args.runs}, prompt {len(PROMPT)} chars, up to {MAX_TOKENS} tokens"
    )
    for name, pairs in samples.items():
        print(_line(name, pairs, direct_medians))
    print(f"gate alone (median, this process): {_gate_ms(50):.1f} ms")


if __name__ == "__main__":
    main()
