"""How long `confidante chat` takes to exit after the answer's last byte (issue 17).

Runs `confidante chat MESSAGE` (streaming to stdout, as a user at a terminal sees it), one fresh
process per run, and timestamps every chunk the process writes. Prints, per scenario, p50/p95/max
of: the answer's last byte → the footer line (our own clean-up: closing sessions, flushing records)
and the answer's last byte → process exit (what the user waits for the prompt), plus the turn's
own time. Scenarios: `local` (no hosted endpoint), `hosted` (an instant scripted endpoint answers),
`hang` (the hosted endpoint accepts the request and never sends a byte: the turn falls back to the
local model while the hosted requests are still open). `--before REV` also runs an exported earlier
commit, alternating run by run, so both meet the same load. Each run also checks that nothing was
lost: the turn's audit records and its usage row are in the database after exit.

    .venv/bin/python bench/bench_cli_exit.py --runs 5 [--profile small] [--before HEAD~1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.revisions import export_tree  # noqa: E402
from tests.browser.scripted_upstream import ScriptedUpstream  # noqa: E402
from tests.support.proxy import FaultProxy  # noqa: E402

SCENARIOS = ("local", "hosted", "hang")
MESSAGE = "Name three colours."
FOOTER = "— "  # the CLI's footer line on stderr starts with it


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Version:
    name: str
    tree: Path
    data_dir: Path
    # scenario -> (last byte→footer s, last byte→exit s, turn wall s, records ok) per run
    runs: dict[str, list[tuple[float, float, float, bool]]] = field(default_factory=dict)


def env_for(version: Version, scenario: str, proxy: FaultProxy, profile: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONFIDANTE_"))}
    env |= {
        "PYTHONPATH": str(version.tree),
        "CONFIDANTE_DATA_DIR": str(version.data_dir),
        "CONFIDANTE_CONFIG": str(version.data_dir / "absent.toml"),
        "CONFIDANTE_MODELS__LOCAL__PROFILE": profile,
        "CONFIDANTE_RELIABILITY__CACHE_ENABLED": "false",
    }
    if scenario != "local":
        env |= {"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": proxy.base_url}
    return env


def _reader(stream: IO[bytes], name: str, chunks: list[tuple[float, str, bytes]]) -> None:
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        chunks.append((time.perf_counter(), name, chunk))


def one_run(version: Version, env: dict[str, str]) -> tuple[float, float, float]:
    """(answer's last byte → footer, → exit, start → answer's last byte) in seconds."""
    command = [sys.executable, "-m", "assistant.cli", "chat", MESSAGE]
    chunks: list[tuple[float, str, bytes]] = []
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=version.tree
    )
    readers = [
        threading.Thread(target=_reader, args=(proc.stdout, "out", chunks)),
        threading.Thread(target=_reader, args=(proc.stderr, "err", chunks)),
    ]
    for reader in readers:
        reader.start()
    proc.wait(timeout=600)
    exited = time.perf_counter()
    for reader in readers:
        reader.join()
    footer = next((t for t, name, c in chunks if name == "err" and FOOTER.encode() in c), None)
    answer = [t for t, name, c in chunks if name == "out" and c.strip() and (footer is None or t <= footer)]
    if proc.returncode != 0 or footer is None or not answer:
        err = b"".join(c for _, name, c in chunks if name == "err").decode(errors="replace")
        raise RuntimeError(f"run failed (exit {proc.returncode}):\n{err[-2000:]}")
    return footer - answer[-1], exited - answer[-1], answer[-1] - started


def records_written(data_dir: Path) -> tuple[int, int]:
    """(model-call audit records, tokens charged) in the version's database."""
    with sqlite3.connect(data_dir / "confidante.db") as db:
        audit = db.execute("SELECT count(*) FROM audit_records WHERE kind = 'model_call'").fetchone()[0]
        usage = db.execute("SELECT coalesce(sum(tokens), 0) FROM daily_usage").fetchone()[0]
    return int(audit), int(usage)


def arm(proxy: FaultProxy, scenario: str) -> None:
    proxy.clear()
    if scenario == "hang":
        proxy.set_fault("hang", times=None)


def bench(found: list[Version], scenarios: list[str], runs: int, profile: str) -> None:
    with ScriptedUpstream(lambda messages: "Red, green and blue.") as upstream:
        port = int(upstream.base_url.split(":")[2].split("/")[0])
        proxy = FaultProxy(port).start()
        try:
            for version in found:  # assembles and verifies the model, creates the database
                check = [sys.executable, "-m", "assistant.cli", "check"]
                subprocess.run(check, env=env_for(version, "local", proxy, profile), cwd=version.tree,
                               capture_output=True, check=True)  # fmt: skip
            for scenario in scenarios:
                arm(proxy, scenario)
                for _ in range(runs):
                    for version in found:
                        before = records_written(version.data_dir)
                        footer, exit_s, turn = one_run(version, env_for(version, scenario, proxy, profile))
                        after = records_written(version.data_dir)
                        ok = after[0] > before[0] and after[1] > before[1]
                        version.runs.setdefault(scenario, []).append((footer, exit_s, turn, ok))
        finally:
            proxy.stop()


def report(found: list[Version], scenarios: list[str], profile: str) -> None:
    print(f"confidante chat, local profile {profile}; seconds from the answer's last byte")
    print(f"{'version':<18} {'scenario':<8} {'footer p50':>10} {'footer p95':>10} {'exit p50':>9} "
          f"{'exit p95':>9} {'exit max':>9} {'turn p50':>9} {'records':>8}")  # fmt: skip
    for scenario in scenarios:
        for version in found:
            rows = version.runs[scenario]
            footers, exits, turns = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
            print(f"{version.name:<18} {scenario:<8} {statistics.median(footers):10.2f} "
                  f"{percentile(footers, 0.95):10.2f} {statistics.median(exits):9.2f} "
                  f"{percentile(exits, 0.95):9.2f} {max(exits):9.2f} {statistics.median(turns):9.2f} "
                  f"{sum(r[3] for r in rows):>4}/{len(rows):<3}")  # fmt: skip
    print(f"load average now: {os.getloadavg()[0]:.1f}; records: runs whose audit and usage were saved")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--profile", choices=("small", "standard"), default="small")
    parser.add_argument("--before", metavar="REV", help="also run this commit, alternating")
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    if unknown := set(scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    root = Path(tempfile.mkdtemp(prefix="bench-cli-exit-"))
    try:
        trees = [("after", REPO)]
        if args.before:
            trees.append((f"before {args.before}", export_tree(args.before, root)))
        found = []
        for index, (name, tree) in enumerate(trees):
            (root / f"data-{index}").mkdir()
            found.append(Version(name, tree, root / f"data-{index}"))
        bench(found, scenarios, args.runs, args.profile)
        report(found, scenarios, args.profile)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # each data directory holds a copy of the model
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
