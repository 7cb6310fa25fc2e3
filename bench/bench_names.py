"""What the name / address layer costs per ~300-character message: the Rampart token classifier
alone, spaCy + Presidio alone, both (concurrently and one after the other), and the whole gate with
and without the classifier.

Run: .venv/bin/python bench/bench_names.py [--n 200]
Prints wall-clock and process CPU time (all threads: the classifier runs on its own thread, which
a per-thread CPU clock would not see) p50 / p95. Wall-clock figures on a loaded machine mostly
measure the load; the CPU figures are the cost.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gate import messages

from routing.analyzer import PresidioDetector
from routing.gate import build_gate
from routing.settings import RoutingSettings
from routing.token_ner import TokenNer


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(label: str, find: Callable[[str], object], texts: list[str]) -> None:
    for text in texts[:10]:
        find(text)  # warm-up
    wall, cpu = [], []
    for text in texts:
        started, cpu_started = time.perf_counter(), time.process_time()
        find(text)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    print(
        f"{label:<40} wall p50 {_percentile(wall, 0.5):6.1f} p95 {_percentile(wall, 0.95):6.1f} ms"
        f" | process CPU p50 {_percentile(cpu, 0.5):6.1f} p95 {_percentile(cpu, 0.95):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    texts = messages(parser.parse_args().n)
    print(f"messages: {len(texts)} x {len(texts[0])} chars")
    ner = TokenNer().load()
    without = PresidioDetector(RoutingSettings(token_ner_enabled=False)).load()
    both = PresidioDetector(RoutingSettings()).load()
    run("token classifier alone", ner.find, texts)
    run("spaCy + Presidio", without.find, texts)
    run("spaCy + Presidio + classifier, concurrent", both.find, texts)
    run("spaCy + Presidio, then classifier", lambda text: (without.find(text), ner.find(text)), texts)
    run("gate without the classifier", build_gate(RoutingSettings(token_ner_enabled=False)).classify, texts)
    run("gate with the classifier", build_gate(RoutingSettings()).classify, texts)


if __name__ == "__main__":
    main()
