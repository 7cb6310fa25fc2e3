"""`confidante eval sensitivity`: the full production gate on the authored sensitivity dataset.

Prints not-public recall per category and per form, the near-miss and ordinary false-flag rates,
which layer flagged each message (rules / NER / topics / classifier), latency p50/p95, and the
false-flag rate on external benign text (finance questions from spikee's false-positive seeds,
sentences of the SQuAD 2 subset). Figures only: it never prints a message or a detected value.
The default split is `heldback`, which nothing was trained, calibrated or tuned on.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routing.gate import GateDecision, SensitivityGate
from routing.tiers import Tier

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT / "tests" / "data" / "sensitivity"
SHARED_EVAL = ROOT.parent / "shared" / "eval"
SPIKEE_BENIGN = (
    SHARED_EVAL / "injection" / "spikee" / "seeds-investment-advice-fp" / "standalone_user_inputs.jsonl"
)
SQUAD = SHARED_EVAL / "rag" / "squad2_subset" / "squad2_dev_subset_5articles.json"
SPLITS = ("train", "dev", "heldback")
# Recognizer names that come from a learned token classifier rather than a rule.
_NER_MARKERS = ("spacy", "rampart", "ner", "token")


def load_rows(split: str = "heldback", data_dir: Path = DEFAULT_DATA_DIR) -> list[dict[str, Any]]:
    """Rows of one split (or `all`), or of a JSONL file when `split` is a path."""
    paths = [Path(split)] if split.endswith(".jsonl") else [
        data_dir / f"{name}.jsonl" for name in (SPLITS if split == "all" else (split,))
    ]  # fmt: skip
    rows = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def layers_of(decision: GateDecision) -> tuple[str, ...]:
    """Which layers found something non-public in a decision."""
    found = set()
    for entity in decision.entities:
        if entity.tier is not Tier.PUBLIC:
            ner = any(marker in entity.recognizer.lower() for marker in _NER_MARKERS)
            found.add("ner" if ner else "rules")
    if any(topic.tier is not Tier.PUBLIC for topic in decision.topics):
        found.add("topics")
    if decision.contextual is not None and decision.contextual.tier is not Tier.PUBLIC:
        found.add("classifier")
    if decision.failed_closed:
        found.add("failed_closed")
    return tuple(sorted(found))


@dataclass
class _Rate:
    hit: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.hit += int(hit)
        self.total += 1

    def as_dict(self) -> dict[str, float | int]:
        return {"rate": round(self.hit / self.total, 3) if self.total else 0.0, "n": self.total}


@dataclass
class SensitivityReport:
    recall_by_category: dict[str, _Rate] = field(default_factory=lambda: defaultdict(_Rate))
    recall_by_form: dict[str, _Rate] = field(default_factory=lambda: defaultdict(_Rate))
    flagged_by_kind: dict[str, _Rate] = field(default_factory=lambda: defaultdict(_Rate))
    near_miss_by_category: dict[str, _Rate] = field(default_factory=lambda: defaultdict(_Rate))
    attribution: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_flag_layers: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latencies_ms: list[float] = field(default_factory=list)
    external: dict[str, _Rate] = field(default_factory=dict)

    def latency(self) -> dict[str, float]:
        if not self.latencies_ms:
            return {"p50_ms": 0.0, "p95_ms": 0.0}
        p50, p95 = np.percentile(self.latencies_ms, [50, 95])
        return {"p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1)}

    def as_dict(self) -> dict[str, Any]:
        def rates(table: dict[str, _Rate]) -> dict[str, Any]:
            return {key: table[key].as_dict() for key in sorted(table)}

        return {
            "recall_by_category": rates(self.recall_by_category),
            "recall_by_form": rates(self.recall_by_form),
            "flagged_negatives": rates(self.flagged_by_kind),
            "near_miss_flagged_by_category": rates(self.near_miss_by_category),
            "attribution": dict(sorted(self.attribution.items())),
            "false_flag_layers": dict(sorted(self.false_flag_layers.items())),
            "latency": self.latency(),
            "external_flagged": rates(self.external),
        }


def evaluate(gate: SensitivityGate, rows: Iterable[dict[str, Any]]) -> SensitivityReport:
    report = SensitivityReport()
    for row in rows:
        decision = gate.classify(str(row["text"]))
        report.latencies_ms.append(decision.elapsed_ms)
        flagged = decision.tier is not Tier.PUBLIC
        if row["sensitive"]:
            report.recall_by_category[str(row["category"])].add(flagged)
            report.recall_by_form[str(row["form"])].add(flagged)
            for layer in layers_of(decision) if flagged else ("missed",):
                report.attribution[layer] += 1
        else:
            report.flagged_by_kind[str(row["form"])].add(flagged)
            for layer in layers_of(decision) if flagged else ():
                report.false_flag_layers[layer] += 1
            if row["form"] == "near_miss":
                report.near_miss_by_category[str(row["category"])].add(flagged)
    return report


def flag_rate(gate: SensitivityGate, texts: Sequence[str]) -> _Rate:
    rate = _Rate()
    for text in texts:
        rate.add(gate.classify(text).tier is not Tier.PUBLIC)
    return rate


def benign_texts(limit: int = 300) -> dict[str, list[str]]:
    """External text that discloses nothing about the writer (missing files are skipped)."""
    texts: dict[str, list[str]] = {}
    if SPIKEE_BENIGN.is_file():
        with SPIKEE_BENIGN.open(encoding="utf-8") as handle:
            texts["spikee_finance_questions"] = [json.loads(line)["text"] for line in handle if line.strip()]
    if SQUAD.is_file():
        data = json.loads(SQUAD.read_text(encoding="utf-8"))
        contexts = [p["context"] for article in data["data"] for p in article["paragraphs"]]
        sentences = [s for c in contexts for s in re.split(r"(?<=[.!?])\s+", c) if len(s) > 30]
        texts["squad_sentences"] = sentences[:limit]
    return texts


def format_report(report: SensitivityReport) -> str:
    data = report.as_dict()
    lines = []
    for title, key in (
        ("not-public recall by form", "recall_by_form"),
        ("not-public recall by category", "recall_by_category"),
        ("negatives flagged", "flagged_negatives"),
        ("near-miss flagged by category", "near_miss_flagged_by_category"),
        ("external benign text flagged", "external_flagged"),
    ):
        lines.append(title + ":")
        lines += [f"  {name:<26} {v['rate']:.3f}  (n={v['n']})" for name, v in data[key].items()]
    lines.append(
        "positives by layer that flagged them: "
        + ", ".join(f"{k} {v}" for k, v in data["attribution"].items())
    )
    lines.append(
        "negatives by layer that flagged them: "
        + ", ".join(f"{k} {v}" for k, v in data["false_flag_layers"].items())
    )
    latency = data["latency"]
    lines.append(f"latency per message: p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms")
    return "\n".join(lines)
