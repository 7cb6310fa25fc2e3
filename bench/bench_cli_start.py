"""How long `confidante chat` takes to start (issue 17): process start -> first answer byte.

Each run starts the real CLI in a fresh process with a public question ("Name three colours.")
that the hosted model answers: a scripted OpenAI-compatible endpoint on loopback that answers at
once, so what is measured is our own start-up. Two kinds of runs, alternated:

- plain: `python -m assistant.cli chat MESSAGE`, timed from the outside: launch -> first byte of
  the answer on stdout, and -> process exit;
- probed: the same command through bench/cli_start_probe.py, which times each start-up phase
  (imports, settings, gate models: spaCy sm/md, Presidio, Rampart, contextual; the local model's
  sha256 check, tokenizer and load; database; Chroma; tools) and "ready" (the turn starts). The
  probe imports the modules it wraps up front, so its own "ready" is later than a plain run's.

`--serve` times `confidante serve` instead: launch -> the first HTTP answer (uvicorn answers only
after the app's start-up hook: services built, the local model loaded).

`--before REV` runs an exported earlier commit too, run by run in turn, so both meet the same load;
each version has its own data directory (the assembled model is hard-linked, not copied).

    .venv/bin/python bench/bench_cli_start.py --runs 5 [--profile standard|small] [--before HEAD~1] [--serve]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.revisions import export_tree  # noqa: E402
from tests.browser.scripted_upstream import ScriptedUpstream  # noqa: E402

MESSAGE = "Name three colours."
PROBE = REPO / "bench" / "cli_start_probe.py"


@dataclass
class Version:
    name: str
    tree: Path
    data_dir: Path
    plain: list[tuple[float, float]] = field(default_factory=list)  # (first byte s, exit s)
    phases: list[dict[str, tuple[float, float]]] = field(default_factory=list)  # label -> (start, end)


def env_for(version: Version, base_url: str, profile: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONFIDANTE_"))}
    return env | {
        "PYTHONPATH": str(version.tree),
        "CONFIDANTE_DATA_DIR": str(version.data_dir),
        "CONFIDANTE_CONFIG": str(version.data_dir / "absent.toml"),
        "CONFIDANTE_MODELS__LOCAL__PROFILE": profile,
        "CONFIDANTE_RELIABILITY__CACHE_ENABLED": "false",
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": base_url,
    }


def _first_byte(stream: IO[bytes], seen: list[float], sink: list[bytes]) -> None:
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        if not seen and chunk.strip():
            seen.append(time.monotonic())
        sink.append(chunk)


def launch(command: list[str], version: Version, env: dict[str, str]) -> tuple[float, float, float]:
    """(launch time, first answer byte, exit), monotonic seconds; raises if the run failed."""
    seen: list[float] = []
    out: list[bytes] = []
    launched = time.monotonic()
    env = env | {"CLI_START_LAUNCHED": repr(launched)}
    pipe = subprocess.PIPE
    proc = subprocess.Popen(command, stdout=pipe, stderr=pipe, env=env, cwd=version.tree)
    err: list[bytes] = []
    readers = [
        threading.Thread(target=_first_byte, args=(proc.stdout, seen, out)),
        threading.Thread(target=_first_byte, args=(proc.stderr, [], err)),
    ]
    for reader in readers:
        reader.start()
    proc.wait(timeout=600)
    exited = time.monotonic()
    for reader in readers:
        reader.join()
    if proc.returncode != 0 or not seen:
        raise RuntimeError(f"run failed (exit {proc.returncode}):\n{b''.join(err).decode()[-2000:]}")
    return launched, seen[0], exited


def plain_run(version: Version, env: dict[str, str]) -> None:
    launched, first, exited = launch([sys.executable, "-m", "assistant.cli", "chat", MESSAGE], version, env)
    version.plain.append((first - launched, exited - launched))


def probed_run(version: Version, env: dict[str, str], scratch: Path) -> None:
    out = scratch / "probe.json"
    launched, first, exited = launch(
        [sys.executable, str(PROBE), MESSAGE], version, env | {"CLI_START_PROBE_OUT": str(out)}
    )
    spans: dict[str, tuple[float, float]] = {}
    for span in json.loads(out.read_text())["spans"]:
        spans.setdefault(span["phase"], (span["start"], span["end"]))  # the first call is start-up's
    spans["first answer byte"] = (0.0, first - launched)
    spans["exit"] = (0.0, exited - launched)
    version.phases.append(spans)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_run(version: Version, env: dict[str, str]) -> None:
    """`confidante serve` until its first HTTP answer; then stopped (its whole process group)."""
    port = _free_port()
    command = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    launched = time.monotonic()
    proc = subprocess.Popen(
        command, env=env, cwd=version.tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        while proc.poll() is None and time.monotonic() - launched < 600:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/auth/config", timeout=2.0).status_code == 200:
                    version.plain.append((time.monotonic() - launched, 0.0))
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"serve was not ready (exit {proc.poll()})")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def prepare(found: list[Version], base_url: str, profile: str) -> None:
    """`confidante check` per version (assembles and verifies the model, creates the database)."""
    assembled: Path | None = None
    for version in found:
        if assembled is not None:  # the same verified file, not a second 1 GB copy
            (version.data_dir / "models").mkdir(parents=True, exist_ok=True)
            for gguf in assembled.glob("*.gguf"):
                os.link(gguf, version.data_dir / "models" / gguf.name)
        check = [sys.executable, "-m", "assistant.cli", "check"]
        env = env_for(version, base_url, profile)
        subprocess.run(check, env=env, cwd=version.tree, capture_output=True, check=True)
        assembled = version.data_dir / "models"


def bench(found: list[Version], runs: int, profile: str, scratch: Path, serve: bool) -> None:
    with ScriptedUpstream(lambda messages: "Red, green and blue.") as upstream:
        prepare(found, upstream.base_url, profile)
        for _ in range(runs if serve else 0):
            for version in found:
                serve_run(version, env_for(version, upstream.base_url, profile))
        for _ in range(0 if serve else runs):
            for version in found:
                plain_run(version, env_for(version, upstream.base_url, profile))
            for version in found:
                probed_run(version, env_for(version, upstream.base_url, profile), scratch)


def _median_span(rows: list[dict[str, tuple[float, float]]], label: str) -> tuple[float, float] | None:
    spans = [row[label] for row in rows if label in row]
    if not spans:
        return None
    return statistics.median(s[0] for s in spans), statistics.median(s[1] - s[0] for s in spans)


def report_serve(found: list[Version], profile: str, load_before: float) -> None:
    print(f"confidante serve, local profile {profile}: launch -> first HTTP answer, seconds")
    for version in found:
        ready = [r[0] for r in version.plain]
        p50, worst = statistics.median(ready), max(ready)
        print(f"{version.name:<20} p50 {p50:6.2f}  max {worst:6.2f}  runs {len(ready)}")
    print(f"load average: {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")


def report(found: list[Version], profile: str, load_before: float) -> None:
    print(f"confidante chat, public question, scripted hosted endpoint, local profile {profile}")
    print(f"{'version':<20} {'first byte p50':>14} {'max':>6} {'exit p50':>9} {'runs':>5}")
    for version in found:
        firsts, exits = [r[0] for r in version.plain], [r[1] for r in version.plain]
        print(f"{version.name:<20} {statistics.median(firsts):14.2f} {max(firsts):6.2f} "
              f"{statistics.median(exits):9.2f} {len(firsts):>5}")  # fmt: skip
    labels = list(dict.fromkeys(label for v in found for row in v.phases for label in row))
    print("\nphases (probed runs; median start and duration, seconds from launch)")
    print(f"{'phase':<36}" + "".join(f" {v.name[:20]:>22}" for v in found))
    for label in labels:
        cells = []
        for version in found:
            span = _median_span(version.phases, label)
            cells.append(f" {'-':>22}" if span is None else f" {span[0]:>9.2f} +{span[1]:>10.2f}")
        print(f"{label:<36}" + "".join(cells))
    print(f"\nload average: {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", choices=("small", "standard"), default="standard")
    parser.add_argument("--before", metavar="REV", help="also run this commit, alternating")
    parser.add_argument("--serve", action="store_true", help="time `confidante serve` to ready instead")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="bench-cli-start-"))
    try:
        trees = [("after", REPO)]
        if args.before:
            trees.append((f"before {args.before}", export_tree(args.before, root)))
        found = []
        for index, (name, tree) in enumerate(trees):
            (root / f"data-{index}").mkdir()
            found.append(Version(name, tree, root / f"data-{index}"))
        bench(found, args.runs, args.profile, root, args.serve)
        (report_serve if args.serve else report)(found, args.profile, load_before)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # each data directory holds the model
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
