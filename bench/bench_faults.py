"""Time until the user gets an answer or a clear message, for each injected fault.

A real `llama_cpp.server` on loopback plays the hosted API behind the fault proxy; the chain is
the one a public turn uses by default: the strong then the cheap model on that one endpoint (each
with the endpoint's breaker and retries), then the in-process local model, walked by the fallback
loop with its one hosted deadline per turn, with the default timeouts and reliability settings.
Each fault is persistent during its runs; every run gets a fresh breaker (an open breaker would
make later runs fail fast, which is a different measurement). Prints p50/p95 per fault, how many
requests reached the endpoint for the cheap model (0 when a hung or unreachable endpoint is
skipped), and checks the 12 s goal.

`--path cli` measures the same faults through `confidante chat --json`, one fresh process per run,
as a user of the command line meets them: the turn's own time (message to full answer, from the
JSON) and the process's wall time (start-up included), with the local profile of `--profile`.

    .venv/bin/python bench/bench_faults.py [--runs 5] [--faults http_500,hang,...]
    .venv/bin/python bench/bench_faults.py --path cli --profile standard --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.base import ChatMessage, ChatRequest, ModelError, collect
from models.hosted import HostedModel
from models.local import LocalModel
from models.settings import HostedModelSettings, LocalModelSettings
from routing.breaker import BreakerModel, CircuitBreaker
from routing.fallback import chain_for
from routing.reliability_settings import ReliabilitySettings
from routing.retry import RetryingModel, RetryPolicy
from routing.tiers import Tier
from tests.support.proxy import FAULT_KINDS, FaultProxy
from tests.support.servers import SERVER_MODEL_ALIAS, LlamaServer, bundled_gguf

GOAL_P95_S = 12.0
CHEAP_ALIAS = "bench-cheap"  # a second model name on the same endpoint, as in production
SCENARIOS = ("none", *FAULT_KINDS, "down")
REQUEST = ChatRequest.of(
    [ChatMessage(role="user", content="Name three colours.")], max_tokens=16, temperature=0.0
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def one_run(
    hosted: list[HostedModel], local: LocalModel, policy: RetryPolicy, settings: ReliabilitySettings
) -> str:
    breaker = CircuitBreaker(hosted[0].endpoint, threshold=settings.breaker_failure_threshold)
    wrapped = [RetryingModel(BreakerModel(model, breaker), policy) for model in hosted]
    chain = chain_for(Tier.PUBLIC, *wrapped, local, deadline_s=settings.hosted_turn_deadline_s)
    try:
        end = await collect(chain.stream(REQUEST))
    except ModelError as exc:
        return f"error:{type(exc).__name__}"
    return f"answer:{end.kind}"


def arm(proxy: FaultProxy, scenario: str) -> None:
    proxy.clear()
    if scenario in FAULT_KINDS:
        proxy.set_fault(scenario, times=None, retry_after=2.0)  # type: ignore[arg-type]


async def bench(server: LlamaServer, local: LocalModel, scenarios: list[str], runs: int) -> list[tuple]:
    proxy = FaultProxy(server.port).start()
    hosted_settings = HostedModelSettings(api_key="bench", base_url=proxy.base_url)  # type: ignore[arg-type]
    settings = ReliabilitySettings()
    policy = RetryPolicy.from_settings(settings)
    rows = []
    try:
        for scenario in scenarios:
            arm(proxy, scenario)
            if scenario == "down":
                proxy.take_down()
            hosted = [HostedModel(name, hosted_settings) for name in (SERVER_MODEL_ALIAS, CHEAP_ALIAS)]
            times, outcomes = [], set()
            seen = len(proxy.chat_exchanges())
            for _ in range(runs):
                started = time.perf_counter()
                outcomes.add(await one_run(hosted, local, policy, settings))
                times.append(time.perf_counter() - started)
            for model in hosted:
                await model.aclose()
            if scenario == "down":
                proxy.bring_up()
            cheap = sum(CHEAP_ALIAS in e.body for e in proxy.chat_exchanges()[seen:])
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            rows.append((scenario, p50, p95, max(times), cheap, sorted(outcomes)))
    finally:
        proxy.stop()
    return rows


def cli_env(data_dir: Path, proxy: FaultProxy, profile: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONFIDANTE_"))}
    return env | {
        "CONFIDANTE_DATA_DIR": str(data_dir),
        "CONFIDANTE_CONFIG": str(data_dir / "absent.toml"),
        "CONFIDANTE_MODELS__LOCAL__PROFILE": profile,
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": proxy.base_url,
    }


def cli_run(env: dict[str, str]) -> tuple[float, float, str]:
    """One `confidante chat --json`: wall seconds, the turn's own seconds, and who answered."""
    command = [sys.executable, "-m", "assistant.cli", "chat", REQUEST.messages[0].content, "--json"]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    wall = time.perf_counter() - started
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return wall, wall, f"crash:{proc.returncode}"
    return wall, float(out["latency_ms"]) / 1000, f"{out['outcome']}:{out['model'] or 'message'}"


def bench_cli(server: LlamaServer, scenarios: list[str], runs: int, profile: str) -> list[tuple]:
    proxy = FaultProxy(server.port).start()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-faults-cli-"))
    env = cli_env(data_dir, proxy, profile)
    # Assembles and verifies the profile's model once (and creates the database), outside the timing.
    subprocess.run([sys.executable, "-m", "assistant.cli", "check"], env=env, capture_output=True, check=True)
    rows = []
    try:
        for scenario in scenarios:
            arm(proxy, scenario)
            if scenario == "down":
                proxy.take_down()
            seen = len(proxy.chat_exchanges())
            results = [cli_run(env) for _ in range(runs)]
            if scenario == "down":
                proxy.bring_up()
            cheap = sum('"gpt-4o-mini"' in e.body for e in proxy.chat_exchanges()[seen:])
            walls, turns = [r[0] for r in results], [r[1] for r in results]
            rows.append((scenario, statistics.median(turns), percentile(turns, 0.95), max(turns), cheap,
                         sorted({r[2] for r in results}), percentile(walls, 0.95)))  # fmt: skip
    finally:
        proxy.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--faults", default=",".join(SCENARIOS))
    parser.add_argument("--path", choices=("app", "cli"), default="app")
    parser.add_argument("--profile", choices=("small", "standard"), default="small", help="--path cli only")
    args = parser.parse_args()
    scenarios = [s for s in args.faults.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    if args.path == "cli":
        return main_cli(scenarios, args.runs, args.profile)
    log = Path(tempfile.mkdtemp(prefix="bench-faults-")) / "server.log"
    server = LlamaServer(bundled_gguf(), log, threads=1)
    local = LocalModel(bundled_gguf(), LocalModelSettings(threads=1, temperature=0.0))
    server.start()
    try:
        local.wait_ready()
        rows = asyncio.run(bench(server, local, scenarios, args.runs))
    finally:
        local.close()
        server.stop()
    print(f"{'fault':<11} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'cheap':>6}  outcome")
    for scenario, p50, p95, worst, cheap, outcomes in rows:
        print(f"{scenario:<11} {p50:7.2f} {p95:7.2f} {worst:7.2f} {cheap:6d}  {', '.join(outcomes)}")
    over = [row[0] for row in rows if row[2] > GOAL_P95_S]
    verdict = "met" if not over else "MISSED for " + ", ".join(over)
    print(f"runs per fault: {args.runs}; goal p95 <= {GOAL_P95_S:g} s: {verdict}")
    return 0 if not over else 1


def main_cli(scenarios: list[str], runs: int, profile: str) -> int:
    log = Path(tempfile.mkdtemp(prefix="bench-faults-")) / "server.log"
    server = LlamaServer(bundled_gguf(), log, threads=1)
    server.start()
    try:
        rows = bench_cli(server, scenarios, runs, profile)
    finally:
        server.stop()
    print(f"confidante chat, local profile {profile}; turn = message to full answer, wall = whole process")
    print(f"{'fault':<11} {'turn p50':>8} {'turn p95':>8} {'max':>6} {'wall p95':>8} {'cheap':>6}  outcome")
    for scenario, p50, p95, worst, cheap, outcomes, wall in rows:
        line = f"{scenario:<11} {p50:8.2f} {p95:8.2f} {worst:6.2f} {wall:8.2f} {cheap:6d}"
        print(f"{line}  {', '.join(outcomes)}")
    over = [row[0] for row in rows if row[2] > GOAL_P95_S]
    verdict = "met" if not over else "MISSED for " + ", ".join(over)
    print(f"runs per fault: {runs}; goal turn p95 <= {GOAL_P95_S:g} s: {verdict}")
    return 0 if not over else 1


if __name__ == "__main__":
    raise SystemExit(main())
