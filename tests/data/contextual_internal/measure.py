"""Prints, per split, how the production gate tiers the messages of this folder: the share of
implied disclosures that go `regulated` (recall) and of ordinary / near-miss messages that go
`regulated` (false flags), by carrier (name, e-mail, phone, employer), and how many rows the
deterministic layers did not find internal (outside what this set measures). Figures only: it
never prints a message. Run from the repository root (or with PYTHONPATH at another checkout):
`python tests/data/contextual_internal/measure.py [dev|heldback ...]`.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from routing.gate import build_gate
from routing.settings import RoutingSettings
from routing.tiers import Tier

HERE = Path(__file__).resolve().parent


def _report(gate: object, split: str) -> None:
    rows = [json.loads(line) for line in (HERE / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    table: dict[tuple[bool, str], list[int]] = defaultdict(lambda: [0, 0])
    tiers: dict[tuple[bool, str], int] = defaultdict(int)
    for row in rows:
        decision = gate.classify(row["text"])  # type: ignore[attr-defined]
        regulated = decision.tier is Tier.REGULATED
        for key in ((row["regulated"], row["carrier"]), (row["regulated"], "all")):
            table[key][0] += int(regulated)
            table[key][1] += 1
        tiers[(row["regulated"], decision.tier.value)] += 1
    print(f"split {split}:")
    for (positive, carrier), (hit, total) in sorted(table.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        side = "implied -> regulated (recall)" if positive else "ordinary -> regulated (flags)"
        print(f"  {side:<31} {carrier:<9} {hit / total:.3f}  ({hit}/{total})")
    for (positive, tier), count in sorted(tiers.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        print(f"  {'implied' if positive else 'ordinary'} rows decided {tier}: {count}")


def main(splits: list[str]) -> None:
    gate = build_gate(RoutingSettings())
    try:
        for split in splits or ["dev", "heldback"]:
            _report(gate, split)
    finally:
        gate.close()


if __name__ == "__main__":
    main(sys.argv[1:])
