"""Intent accuracy on the labelled messages in tests/data/intent (train, dev, held-back splits).

Run: PYTHONPATH=. .venv/bin/python bench/bench_intent.py [--errors]
Prints accuracy per split and a confusion count; the held-back split is the figure to report
(tests/data/intent/README.md says how each split was made and which ones shaped the rules).
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from assistant.intent import classify_intent

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "intent"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--errors", action="store_true", help="print the misclassified messages")
    args = parser.parse_args()
    for split in ("train", "dev", "heldback"):
        rows = [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text().splitlines() if line]
        confusion: collections.Counter[tuple[str, str]] = collections.Counter()
        for row in rows:
            got = classify_intent(row["text"])
            confusion[(row["label"], got.kind)] += 1
            if args.errors and got.kind != row["label"]:
                print(f"  [{split}] {row['label']} -> {got.kind}: {row['text']}")
        correct = sum(n for (want, got), n in confusion.items() if want == got)
        wrong = ", ".join(f"{w}→{g} {n}" for (w, g), n in sorted(confusion.items()) if w != g) or "none"
        print(f"{split:<9} {correct}/{len(rows)} = {correct / len(rows):.3f}   errors: {wrong}")


if __name__ == "__main__":
    main()
