"""Measuring the relevance judge: its rule chosen on the train splits, its figures on held-out.

For every answerable question whose fused top two would be judged under the loosest rule of the
grid, the private model's verdicts on those two passages are computed once and cached on disk
(keyed by model and exact prompt), so choosing the rule and reporting it never re-runs the model.
The rule (margin, dense disagreement, weight) is the one with the best train recall@1, fewer
judgements breaking ties; held-out questions never take part in choosing it.
This module measures; it never changes the bundled settings.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.evaluation import CandidateSet, RankMetrics, metrics_line, percentiles
from knowledge.relevance_judge import JUDGED, disagreement, judge_messages, judged_order
from knowledge.rerank import FEATURES, FusionWeights, fusion_scores
from knowledge.settings import JudgeSettings
from models.base import YesNoJudge

MARGINS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)
WEIGHTS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 16.0)
LOOSEST = JudgeSettings(margin=max(MARGINS), on_dense_disagreement=True)
# Verdicts survive between runs: the model is the slow part, and its verdicts do not change.
DEFAULT_CACHE = Path.home() / ".cache" / "confidante" / "judge_verdicts.jsonl"
# An evaluation waits for every judgement: its latency is what is measured, not bounded.
EVAL_TIMEOUT_S = 900.0


@dataclass(frozen=True, slots=True)
class FusedView:
    """One question's candidates in the fusion's order, with what the judge step reads."""

    question_id: str
    answerable: bool
    gold: int | None
    order: tuple[int, ...]
    fused: tuple[float, ...]
    dense: tuple[float, ...]

    def needs_judge(self, settings: JudgeSettings) -> bool:
        return len(self.order) >= JUDGED and disagreement(self.fused, self.dense, settings).needs_judge


def fused_view(candidates: CandidateSet, fusion: FusionWeights) -> FusedView:
    x = np.asarray(candidates.features, dtype=np.float64).reshape(len(candidates.features), len(FEATURES))
    p = fusion_scores(fusion, x) if len(x) else np.zeros(0)
    order = sorted(range(len(p)), key=lambda i: (-p[i], i))
    dense = FEATURES.index("dense")
    return FusedView(
        question_id=candidates.question_id,
        answerable=candidates.answerable,
        gold=candidates.gold,
        order=tuple(order),
        fused=tuple(float(p[i]) for i in order),
        dense=tuple(float(x[i, dense]) for i in order),
    )


@dataclass(frozen=True, slots=True)
class Judgement:
    p_yes: float
    latency_ms: float
    load: float


class VerdictCache:
    """Verdicts by (model, exact prompt), one JSON line each, appended as they are computed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known: dict[str, Judgement] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self._known[row["key"]] = Judgement(row["p_yes"], row["latency_ms"], row.get("load", 0.0))

    @staticmethod
    def key(model: str, messages: Sequence[Any]) -> str:
        payload = json.dumps([model, [m.wire() for m in messages]], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, key: str) -> Judgement | None:
        return self._known.get(key)

    def put(self, key: str, judgement: Judgement) -> None:
        self._known[key] = judgement
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            row = {
                "key": key,
                "p_yes": judgement.p_yes,
                "latency_ms": judgement.latency_ms,
                "load": judgement.load,
            }
            out.write(json.dumps(row) + "\n")


def judge_top_two(
    sets: Sequence[CandidateSet],
    views: Mapping[str, FusedView],
    judge: YesNoJudge,
    cache: VerdictCache,
    *,
    settings: JudgeSettings = LOOSEST,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, tuple[Judgement, ...]]:
    """Verdicts on the fused top two of every answerable question the loosest rule would judge."""
    todo = [s for s in sets if s.answerable and views[s.question_id].needs_judge(settings)]
    found: dict[str, tuple[Judgement, ...]] = {}
    for number, candidates in enumerate(todo, start=1):
        view = views[candidates.question_id]
        found[candidates.question_id] = tuple(
            _judge_one(judge, cache, candidates.question, candidates.texts[i], settings)
            for i in view.order[:JUDGED]
        )
        if progress:
            progress(number, len(todo))
    return found


def _judge_one(
    judge: YesNoJudge, cache: VerdictCache, question: str, passage: str, settings: JudgeSettings
) -> Judgement:
    messages = judge_messages(question, passage, settings.max_passage_chars)
    key = VerdictCache.key(judge.name, messages)
    known = cache.get(key)
    if known is None:
        verdict = judge.judge_yes_no(messages, timeout_s=EVAL_TIMEOUT_S)
        known = Judgement(verdict.p_yes, verdict.latency_ms, os.getloadavg()[0])
        cache.put(key, known)
    return known


def gold_rank(
    view: FusedView, verdicts: Mapping[str, Sequence[Judgement]], rule: JudgeSettings | None
) -> int | None:
    """Where the gold passage ends up: fusion order, then the rule's judgement of the top two."""
    if view.gold is None:
        return None
    order = list(view.order)
    judged = verdicts.get(view.question_id)
    if rule is not None and judged and view.needs_judge(rule):
        top = judged_order(view.fused[:JUDGED], [j.p_yes for j in judged], rule.weight)
        order = [order[i] for i in top] + order[JUDGED:]
    return order.index(view.gold) + 1


def metrics(
    views: Sequence[FusedView], verdicts: Mapping[str, Sequence[Judgement]], rule: JudgeSettings | None
) -> RankMetrics:
    ranks = [gold_rank(v, verdicts, rule) for v in views if v.answerable]
    n = max(len(ranks), 1)
    return RankMetrics(
        questions=len(ranks),
        recall_at_1=round(sum(r == 1 for r in ranks) / n, 4),
        recall_at_5=round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        mrr_at_10=round(sum(1.0 / r for r in ranks if r is not None and r <= 10) / n, 4),
    )


def choose_rule(train: Sequence[FusedView], verdicts: Mapping[str, Sequence[Judgement]]) -> JudgeSettings:
    """The grid's rule with the best train recall@1; among equals, the one that judges least."""

    def merit(rule: JudgeSettings) -> tuple[float, int]:
        runs = sum(v.needs_judge(rule) for v in train)
        return metrics(train, verdicts, rule).recall_at_1, -runs

    grid = [
        JudgeSettings(margin=margin, on_dense_disagreement=dense, weight=weight)
        for margin, dense, weight in itertools.product(MARGINS, (False, True), WEIGHTS)
    ]
    return max(grid, key=merit)


def judge_report(
    corpora: Mapping[str, Sequence[CandidateSet]],
    fusion: FusionWeights,
    judge: YesNoJudge,
    cache_path: Path,
    *,
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The chosen rule and, per corpus, held-out recall before/after, judge rate and latency.

    `limit`: only the first that many questions of each split of each corpus (file order) are
    judged, choose the rule (train) and are reported (the model is slow on a busy machine).
    """
    cache = VerdictCache(cache_path)
    trimmed = {name: _first_of_each_split(sets, limit) for name, sets in corpora.items()}
    views = {s.question_id: fused_view(s, fusion) for sets in trimmed.values() for s in sets}
    verdicts: dict[str, tuple[Judgement, ...]] = {}
    for name, sets in trimmed.items():
        for split in ("train", "heldout"):

            def tell(done: int, total: int, label: str = f"{name} {split}") -> None:
                if progress and (done % 10 == 0 or done == total):
                    progress(f"judging {label}: {done}/{total}")

            part = [s for s in sets if s.split == split]
            verdicts |= judge_top_two(part, views, judge, cache, progress=tell)
    train = [views[s.question_id] for sets in trimmed.values() for s in sets if s.split == "train"]
    rule = choose_rule(train, verdicts)
    report: dict[str, Any] = {"rule (chosen on train)": _rule_line(rule), "judge model": judge.name}
    for name, sets in trimmed.items():
        block = _corpus_block([views[s.question_id] for s in sets], sets, verdicts, rule)
        report |= {f"{name} {key}": value for key, value in block.items()}
    return report


def _first_of_each_split(sets: Sequence[CandidateSet], limit: int | None) -> list[CandidateSet]:
    if limit is None:
        return list(sets)
    seen: dict[str, int] = {}
    kept = []
    for candidates in sets:
        seen[candidates.split] = seen.get(candidates.split, 0) + 1
        if seen[candidates.split] <= limit:
            kept.append(candidates)
    return kept


def _corpus_block(
    views: Sequence[FusedView],
    sets: Sequence[CandidateSet],
    verdicts: Mapping[str, Sequence[Judgement]],
    rule: JudgeSettings,
) -> dict[str, str]:
    block: dict[str, str] = {}
    split_of = {s.question_id: s.split for s in sets}
    for split in ("train", "heldout"):
        part = [v for v in views if split_of[v.question_id] == split]
        if not part:
            continue
        block[f"{split} fusion"] = metrics_line(metrics(part, verdicts, None))
        block[f"{split} fusion + judge"] = metrics_line(metrics(part, verdicts, rule))
        runs = sum(v.needs_judge(rule) for v in part)
        block[f"{split} judge runs"] = f"{runs} of {len(part)} questions ({runs / len(part):.0%})"
    # Latency is the judgement's own, whatever rule is chosen: every measured one counts.
    measured = [verdicts[v.question_id] for v in views if v.question_id in verdicts]
    judged = [j for pair in measured for j in pair]
    block["judgement ms p50/p95 (one passage)"] = percentiles([j.latency_ms for j in judged], digits=0)
    per_question = [sum(j.latency_ms for j in pair) for pair in measured]
    block["judge ms p50/p95 (both passages)"] = percentiles(per_question, digits=0)
    block["load average while judging (median)"] = (
        f"{np.median([j.load for j in judged]):.1f}" if judged else "n/a"
    )
    return block


def _rule_line(rule: JudgeSettings) -> str:
    dense = "on" if rule.on_dense_disagreement else "off"
    return f"margin < {rule.margin}, dense disagreement {dense}, weight {rule.weight}"
