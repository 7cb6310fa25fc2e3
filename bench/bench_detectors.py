"""False flags and latency of the deterministic detectors (routing/detectors, normalize, topics).

Ordinary text must stay public: the five SQuAD articles (cut into messages of about 300 characters)
and spikee's benign personal-finance questions. Latency: normalization plus every identifier rule on
300-character messages, and the same with the policy topics, without spaCy/Presidio.

    .venv/bin/python bench/bench_detectors.py
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path

from routing.gate import SensitivityGate
from routing.normalize import normalize
from routing.policy import load_policy
from routing.recognizers import ADDRESS_RULES, BUILTIN_RULES, PERSON_RULES, find_identifiers
from routing.tiers import Tier
from routing.topics import TopicClassifier

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
SQUAD_DOCS = SHARED / "rag" / "squad2_subset" / "docs"
PROBES = Path(__file__).resolve().parent / "detector_probes"
SPIKEE_FP = SHARED / "injection" / "spikee" / "seeds-investment-advice-fp" / "standalone_user_inputs.jsonl"


def squad_messages(limit: int = 300) -> list[str]:
    """Paragraph text cut at sentence ends into pieces of at most `limit` characters."""
    messages: list[str] = []
    for path in sorted(SQUAD_DOCS.glob("*.md")):
        for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
            current = ""
            for sentence in paragraph.replace("\n", " ").split(". "):
                if current and len(current) + len(sentence) > limit:
                    messages.append(current.strip())
                    current = ""
                current += sentence + ". "
            if current.strip(" .#"):
                messages.append(current.strip())
    return [message for message in messages if len(message) > 40]


def spikee_questions() -> list[str]:
    lines = SPIKEE_FP.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def flag_rate(gate: SensitivityGate, name: str, texts: list[str]) -> None:
    why: Counter[str] = Counter()
    flagged = 0
    for text in texts:
        decision = gate.classify(text)
        if decision.tier is not Tier.PUBLIC:
            flagged += 1
            why.update({entity.type for entity in decision.entities if entity.tier is not Tier.PUBLIC})
            why.update({f"topic:{topic.name}" for topic in decision.topics})
    print(f"{name}: {flagged}/{len(texts)} not public ({flagged / len(texts):.1%}); by cause: {dict(why)}")


def probe_figures(gate: SensitivityGate, split: str) -> None:
    """Not-public rate of sensitive probes (by form and family) and of near misses, for one split."""
    rows = [json.loads(line) for line in (PROBES / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    caught: dict[str, list[bool]] = {}
    for row in rows:
        flagged = gate.classify(row["text"]).tier is not Tier.PUBLIC
        keys = (
            ["near_miss"]
            if row["label"] == "near_miss"
            else [f"form {row['form']}", f"family {row['family']}"]
        )
        for key in keys:
            caught.setdefault(key, []).append(flagged)
    parts = [f"{key} {sum(values)}/{len(values)}" for key, values in sorted(caught.items())]
    print(f"probes {split} (not public): " + "; ".join(parts))


def latency(texts: list[str]) -> None:
    rules = BUILTIN_RULES + ADDRESS_RULES + PERSON_RULES
    topics = TopicClassifier(load_policy().topics)
    messages = [text[:300] for text in texts if len(text) >= 250]
    rule_ms, topic_ms, rule_cpu_ms = [], [], []
    for _ in range(3):
        for text in messages:
            started, cpu_started = time.perf_counter(), time.thread_time()
            mapped = normalize(text)
            find_identifiers(mapped.text, rules)
            middle, cpu_middle = time.perf_counter(), time.thread_time()
            topics.find(mapped.text)
            rule_ms.append((middle - started) * 1000)
            rule_cpu_ms.append((cpu_middle - cpu_started) * 1000)
            topic_ms.append((time.perf_counter() - middle) * 1000)
    # Wall time suffers from other processes on a shared machine; thread CPU time does not.
    print(f"normalize + identifier rules, CPU time: mean {statistics.mean(rule_cpu_ms):.2f} ms")
    for name, values in (("normalize + identifier rules", rule_ms), ("policy topics", topic_ms)):
        ordered = sorted(values)
        p95 = ordered[int(len(ordered) * 0.95)]
        print(
            f"{name}: p50 {statistics.median(values):.2f} ms, p95 {p95:.2f} ms "
            f"over {len(values)} runs of ~300 chars"
        )


# Inputs that make careless patterns quadratic: long runs without spaces, repeated separators.
_PATHOLOGICAL = {
    "spaced digits": "1 2 " * 1500,
    "dashed digit pairs": "12-34-" * 800,
    "spaced letters": "a b " * 1500,
    "colons": "ab:" * 1500,
    "long token": "A1" * 2000,
    "possessives": "my " * 1500 + "asthma",
    "assignments": "user: a1, pin: 1234; " * 200,
}


def worst_cases() -> None:
    rules = BUILTIN_RULES + ADDRESS_RULES + PERSON_RULES
    topics = TopicClassifier(load_policy().topics)
    for name, text in _PATHOLOGICAL.items():
        started = time.thread_time()
        mapped = normalize(text)
        find_identifiers(mapped.text, rules)
        topics.find(mapped.text)
        print(f"worst case {name} ({len(text)} chars): {(time.thread_time() - started) * 1000:.0f} ms CPU")


def main() -> None:
    gate = SensitivityGate(load_policy(), None, timeout_s=60)
    print(f"{len(BUILTIN_RULES)} identifier rules; policy {gate.policy.version}")
    squad = squad_messages()
    flag_rate(gate, "SQuAD articles (ordinary prose)", squad)
    flag_rate(gate, "spikee benign finance questions", spikee_questions())
    for split in ("dev", "heldout"):
        probe_figures(gate, split)
    latency(squad)
    worst_cases()
    gate.close()


if __name__ == "__main__":
    main()
