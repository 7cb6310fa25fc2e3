"""Personal places vs general place questions, on the authored set `tests/data/places/`.

Run: .venv/bin/python bench/bench_places.py [--split dev|heldback|all] [--show]
For each personal-place sentence (itinerary, origin, residence, venue), whether every place in it
would reach the hosted model masked (pseudonymized, or the turn kept local); for each near-miss
general question, whether a place in it was masked (over-masking: the hosted answer loses the
place) and whether the message left the public tier. Runs the production gate; prints figures and
never tunes anything. `--show` lists the sentences that miss (use it on dev only: the held-back
split is for the figure).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from routing.gate import Detection, build_gate
from routing.pii_eval import masked_ranges
from routing.settings import RoutingSettings
from routing.tiers import Route, Tier

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "places" / "personal_places.jsonl"


def covered(text: str, value: str, detection: Detection, pseudonymized: frozenset[str]) -> bool:
    """Every letter of every mention of `value` is inside a masked range (or the turn stays local)."""
    if detection.decision.tier is Tier.REGULATED:
        return True
    if detection.decision.route is not Route.HOSTED_PSEUDONYMIZED:
        return False
    ranges = masked_ranges(text, [s for s in detection.spans if s.type in pseudonymized])
    start = text.index(value)
    return all(
        any(a <= i < b for a, b in ranges) for i in range(start, start + len(value)) if text[i].isalnum()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "heldback", "all"), default="dev")
    parser.add_argument("--show", action="store_true", help="list misses (dev only)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    gate = build_gate(RoutingSettings())
    wanted = frozenset(gate.policy.pseudonymized_types())
    personal = {"sentences": 0, "masked": 0, "values": 0, "values_masked": 0}
    near = {"sentences": 0, "place_masked": 0, "not_public": 0}
    for row in rows:
        text, detection = row["text"], gate.detect(row["text"])
        hits = [covered(text, p, detection, wanted) for p in row["places"]]
        if row["kind"] == "personal":
            personal["sentences"] += 1
            personal["masked"] += all(hits)
            personal["values"] += len(hits)
            personal["values_masked"] += sum(hits)
            miss = not all(hits)
        else:
            near["sentences"] += 1
            near["place_masked"] += any(hits)
            near["not_public"] += detection.decision.tier is not Tier.PUBLIC
            miss = any(hits) or detection.decision.tier is not Tier.PUBLIC
        if args.show and miss:
            print(f"MISS [{row['kind']}/{row['class']}] {detection.decision.tier.value}: {text!r}")
    gate.close()
    p, n = personal, near
    print(
        f"split {args.split}: {p['sentences']} personal-place sentences, {n['sentences']} near-miss questions"
    )
    print(
        f"personal: every place masked in {_share(p['masked'], p['sentences'])}; "
        f"places masked {_share(p['values_masked'], p['values'])}"
    )
    print(
        f"near-miss: a place masked in {_share(n['place_masked'], n['sentences'])}; "
        f"not public {_share(n['not_public'], n['sentences'])}"
    )


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / max(1, whole):.3f})"


if __name__ == "__main__":
    main()
