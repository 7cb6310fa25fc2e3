"""Gate latency with and without the PERSON voter (a second spaCy model), alternated in one process.

Run: .venv/bin/python bench/bench_gate_voter.py [--n 200]
Two production gates over the same ~300-character messages (`bench_gate.messages`): one with the
settings as shipped, one with `person_voter_package` set (or unset, whichever the default is not).
Each message is classified by both, in alternating order, so both meet the same machine load.
Prints wall and CPU p50/p95 for each and the difference. Never asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_gate import SNIPPETS, messages, percentiles
from routing.gate import SensitivityGate, build_gate
from routing.settings import MD_SPACY_PACKAGE, RoutingSettings


def _timed(gate: SensitivityGate, text: str) -> tuple[float, float]:
    started, cpu_started = time.perf_counter(), time.process_time()
    decision = gate.classify(text)
    if decision.failed_closed:
        raise SystemExit("a decision failed closed: the figures would not be the gate's")
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    texts = messages(args.n, snippets=SNIPPETS)
    shipped = RoutingSettings()
    other = shipped.model_copy(
        update={"person_voter_package": None if shipped.person_voter_package else MD_SPACY_PACKAGE}
    )
    gates = {"shipped": build_gate(shipped), "other": build_gate(other)}
    labels = {name: f"voter {s.person_voter_package}" for name, s in (("shipped", shipped), ("other", other))}
    for text in texts[:10]:  # warm-up: loads, first-call caches
        for gate in gates.values():
            gate.classify(text)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in gates}
    for index, text in enumerate(texts):
        order = list(gates) if index % 2 == 0 else list(reversed(gates))
        for name in order:
            samples[name].append(_timed(gates[name], text))
    print(f"messages: {len(texts)} x {len(texts[0])} chars, alternated")
    for column, kind in ((0, "wall"), (1, "cpu")):
        for name in gates:
            p50, p95 = percentiles([sample[column] for sample in samples[name]])
            print(f"[{kind}] {labels[name]:<28} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  goal p95 <= 40 ms")
    for gate in gates.values():
        gate.close()


if __name__ == "__main__":
    main()
