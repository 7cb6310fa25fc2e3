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
`--path ui` measures them through the web UI's pipeline: one long-lived app process built as the
UI's start-up builds it (`bench/fault_turn_worker.py`: governance, private model loaded first),
seconds from the message to the turn's result. Both print the load average around each fault and,
where the code records it, where the time went (mean ms: our lock, gate, retrieval, hosted
attempts, the local answer's wait for its first words and its whole attempt; how many were cut
short) and, on the UI path, one answer per outcome, so a fast turn is seen to answer. `--before
REV` also runs an exported earlier commit, alternating run by run (and the order), so both are
measured under the same load (the answer cache is off on these paths: repeats would hit it).

    .venv/bin/python bench/bench_faults.py [--runs 5] [--faults http_500,hang,...]
    .venv/bin/python bench/bench_faults.py --path cli --profile standard --runs 3
    .venv/bin/python bench/bench_faults.py --path ui --faults none,hang --runs 5 --before HEAD~3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.revisions import export_tree
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

REPO = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "fault_turn_worker.py"
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


def cli_env(data_dir: Path, proxy: FaultProxy, profile: str, tree: Path = REPO) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONFIDANTE_"))}
    return env | {
        "PYTHONPATH": str(tree),
        "CONFIDANTE_DATA_DIR": str(data_dir),
        "CONFIDANTE_CONFIG": str(data_dir / "absent.toml"),
        "CONFIDANTE_MODELS__LOCAL__PROFILE": profile,
        "CONFIDANTE_RELIABILITY__CACHE_ENABLED": "false",
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": proxy.base_url,
    }


@dataclass
class Version:
    """The code under test: this tree ("after") or an exported earlier commit ("before REV")."""

    name: str
    tree: Path
    env: dict[str, str]
    worker: subprocess.Popen[str] | None = None
    # Per scenario: (turn seconds, wall seconds, outcome, cheap-model requests, timing) per run.
    runs: dict[str, list[tuple[float, float, str, int, dict | None]]] = field(default_factory=dict)
    # --path ui: the first answer seen per outcome (printed with the figures).
    answers: dict[str, str] = field(default_factory=dict)


def versions(proxy: FaultProxy, profile: str, before: str | None) -> list[Version]:
    root = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    trees = [("after", REPO)] + ([(f"before {before}", export_tree(before, root))] if before else [])
    found: list[Version] = []
    for name, tree in trees:
        data_dir = root / f"data-{len(found)}"
        data_dir.mkdir()
        found.append(Version(name, tree, cli_env(data_dir, proxy, profile, tree)))
    return found


def cli_run(version: Version) -> tuple[float, float, str, dict | None]:
    """One `confidante chat --json`: wall seconds, the turn's own seconds, who answered, timing."""
    command = [sys.executable, "-m", "assistant.cli", "chat", REQUEST.messages[0].content, "--json"]
    started = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, env=version.env, cwd=version.tree, timeout=300
    )
    wall = time.perf_counter() - started
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return wall, wall, f"crash:{proc.returncode}", None
    outcome = f"{out['outcome']}:{out['model'] or 'message'}"
    return float(out["latency_ms"]) / 1000, wall, outcome, out.get("timing")


def start_worker(version: Version) -> None:
    command = [sys.executable, str(WORKER), REQUEST.messages[0].content]
    log = open(Path(version.env["CONFIDANTE_DATA_DIR"]) / "worker.log", "w")  # noqa: SIM115
    version.worker = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=version.env,
        cwd=version.tree,
    )  # fmt: skip
    worker_result(version)  # {"ready": true} once the app is up


def worker_result(version: Version) -> dict:
    """The next `RESULT` line of a worker (anything else it prints is skipped)."""
    assert version.worker is not None and version.worker.stdout is not None
    while not (line := version.worker.stdout.readline()).startswith("RESULT "):
        if not line:
            raise RuntimeError(f"the {version.name} app process ended (see worker.log in its data dir)")
    return json.loads(line.removeprefix("RESULT "))


def ui_run(version: Version) -> tuple[float, float, str, dict | None]:
    worker = version.worker
    assert worker is not None and worker.stdin is not None and worker.stdout is not None
    worker.stdin.write("run\n")
    worker.stdin.flush()
    out = worker_result(version)
    outcome = f"{out['outcome']}:{out['model'] or 'message'}"
    # One answer per version and fault, so a fast turn is seen to be a real answer.
    version.answers.setdefault(outcome, " ".join(str(out.get("answer", "")).split())[:70])
    return out["turn_s"], out["turn_s"], outcome, out.get("timing")


def bench_paths(
    server: LlamaServer, scenarios: list[str], runs: int, path: str, profile: str, before: str | None
):
    proxy = FaultProxy(server.port).start()
    found = versions(proxy, profile, before)
    loads: dict[str, tuple[float, float]] = {}
    try:
        for version in found:
            # Assembles and verifies the profile's model (and creates the database), outside the timing.
            check = [sys.executable, "-m", "assistant.cli", "check"]
            subprocess.run(check, env=version.env, cwd=version.tree, capture_output=True, check=True)
            if path == "ui":
                start_worker(version)
        one_run = ui_run if path == "ui" else cli_run
        for scenario in scenarios:
            arm(proxy, scenario)
            if scenario == "down":
                proxy.take_down()
            load_before = os.getloadavg()[0]
            for run in range(runs):
                # Alternating, so every version meets the same load; the order too, since the
                # first turn of a scenario pays for the stand-in server's cold prompt cache.
                for version in found if run % 2 == 0 else found[::-1]:
                    seen = len(proxy.chat_exchanges())
                    turn, wall, outcome, timing = one_run(version)
                    cheap = sum('"gpt-4o-mini"' in e.body for e in proxy.chat_exchanges()[seen:])
                    version.runs.setdefault(scenario, []).append((turn, wall, outcome, cheap, timing))
            loads[scenario] = (load_before, os.getloadavg()[0])
            if scenario == "down":
                proxy.bring_up()
    finally:
        for version in found:
            if version.worker is not None:
                version.worker.stdin.close()  # type: ignore[union-attr]
                version.worker.wait(timeout=60)
        proxy.stop()
        # Each data dir holds its own assembled model (1 GB for Qwen): the disk is shared.
        shutil.rmtree(Path(found[0].env["CONFIDANTE_DATA_DIR"]).parent, ignore_errors=True)
    return found, loads


def time_split(timings: list[dict]) -> str:
    """Mean ms per part of the turn, from the turns' own records."""
    parts: dict[str, list[float]] = {}
    cut = 0
    for timing in timings:
        spans = timing.get("spans", [])
        sums = {"lock": 0.0, "gate": 0.0, "retrieval": 0.0, "hosted": 0.0, "local_first": 0.0, "local": 0.0}
        for span in spans:
            if span["phase"] in ("lock", "gate", "retrieval"):
                sums[span["phase"]] += span["ms"]
            elif span["phase"] == "attempt" and span.get("kind") == "hosted":
                sums["hosted"] += span["ms"]
            elif span["phase"] == "attempt":
                sums["local"] += span["ms"]
                sums["local_first"] += span.get("first_event_ms") or 0.0
        for key, value in sums.items():
            parts.setdefault(key, []).append(value)
        cut += bool(timing.get("cut_short"))
    means = " ".join(f"{key} {statistics.mean(values):.0f}" for key, values in parts.items())
    return f"{means}; cut short {cut}/{len(timings)}"


def report(
    path: str, profile: str, found: list[Version], loads: dict[str, tuple[float, float]], runs: int
) -> int:
    label = "confidante chat" if path == "cli" else "the web UI's pipeline (one app process)"
    print(f"{label}, local profile {profile}; turn = message to full answer (wall: whole process, cli)")
    print(f"{'version':<18} {'fault':<11} {'p50 s':>6} {'p95 s':>6} {'max s':>6} {'wall95':>6} {'cheap':>5} "
          f"{'load':>9}  outcome")  # fmt: skip
    over = []
    for scenario, (load_a, load_b) in loads.items():
        for version in found:
            rows = version.runs[scenario]
            turns, walls = [r[0] for r in rows], [r[1] for r in rows]
            p95 = percentile(turns, 0.95)
            if version.name == "after" and p95 > GOAL_P95_S:
                over.append(scenario)
            line = (f"{version.name:<18} {scenario:<11} {statistics.median(turns):6.2f} {p95:6.2f} "
                    f"{max(turns):6.2f} {percentile(walls, 0.95):6.2f} {sum(r[3] for r in rows):5d} "
                    f"{load_a:4.1f}-{load_b:<4.1f}  {', '.join(sorted({r[2] for r in rows}))}")  # fmt: skip
            print(line)
            timings = [r[4] for r in rows if r[4]]
            if timings:
                print(f"{'':<18} {'':<11} where the time went (mean ms): {time_split(timings)}")
    for version in found:
        for outcome, answer in version.answers.items():
            print(f"{version.name:<18} e.g. {outcome}: {answer!r}")
    verdict = "met" if not over else "MISSED for " + ", ".join(over)
    print(f"runs per fault and version: {runs}; goal turn p95 <= {GOAL_P95_S:g} s (after): {verdict}")
    return 0 if not over else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--faults", default=",".join(SCENARIOS))
    parser.add_argument("--path", choices=("app", "cli", "ui"), default="app")
    parser.add_argument(
        "--profile", choices=("small", "standard"), default="small", help="--path cli|ui only"
    )
    parser.add_argument("--before", metavar="REV", help="--path cli|ui: also run this commit, alternating")
    args = parser.parse_args()
    scenarios = [s for s in args.faults.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    if args.path in ("cli", "ui"):
        return main_paths(scenarios, args.runs, args.path, args.profile, args.before)
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


def main_paths(scenarios: list[str], runs: int, path: str, profile: str, before: str | None) -> int:
    log = Path(tempfile.mkdtemp(prefix="bench-faults-")) / "server.log"
    server = LlamaServer(bundled_gguf(), log, threads=1)
    server.start()
    try:
        found, loads = bench_paths(server, scenarios, runs, path, profile, before)
    finally:
        server.stop()
    return report(path, profile, found, loads, runs)


if __name__ == "__main__":
    raise SystemExit(main())
