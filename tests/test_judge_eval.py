"""The judge's evaluation: verdicts cached, the rule chosen on train only, ranks after the judgement."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from knowledge.evaluation import CandidateSet
from knowledge.judge_eval import (
    FusedView,
    Judgement,
    VerdictCache,
    choose_rule,
    gold_rank,
    judge_report,
    metrics,
)
from knowledge.rerank import FEATURES, FusionWeights
from knowledge.settings import JudgeSettings
from models.base import ChatMessage, YesNoVerdict

DENSE = FEATURES.index("dense")
# A fusion that is the dense cosine alone (logit = 10 * (cosine - 0.5)): easy to reason about.
FUSION = FusionWeights(
    features=FEATURES,
    bias=-5.0,
    weights=tuple(10.0 if f == "dense" else 0.0 for f in FEATURES),
    trained_on="test",
)


def candidates(
    qid: str, split: str, cosines: Sequence[float], gold: int, answerable: bool = True
) -> CandidateSet:
    rows = [[0.0] * len(FEATURES) for _ in cosines]
    for row, cosine in zip(rows, cosines, strict=True):
        row[DENSE] = cosine
    return CandidateSet(
        question_id=qid,
        article="a",
        split=split,
        answerable=answerable,
        gold=gold,
        features=rows,
        question=f"question {qid}",
        texts=[f"{qid} passage {i}" for i in range(len(cosines))],
    )


class ScriptedJudge:
    """P(yes) 0.9 for the gold passage's text, 0.1 otherwise; counts calls."""

    name = "scripted"

    def __init__(self, gold_texts: set[str]) -> None:
        self.gold_texts = gold_texts
        self.calls = 0

    def idle(self) -> bool:
        return True

    def judge_yes_no(self, messages: Sequence[ChatMessage], *, timeout_s: float) -> YesNoVerdict:
        self.calls += 1
        hit = any(text in messages[-1].content for text in self.gold_texts)
        return YesNoVerdict(
            p_yes=0.9 if hit else 0.1, yes_logprob=-0.1, no_logprob=-2.0, latency_ms=5.0, model=self.name
        )


def view(qid: str, gold: int, fused: Sequence[float]) -> FusedView:
    return FusedView(qid, True, gold, tuple(range(len(fused))), tuple(fused), tuple(fused))


def test_a_judged_swap_moves_the_gold_passage_up_only_under_a_rule_that_judges() -> None:
    close = view("q", gold=1, fused=[0.51, 0.50, 0.1])
    verdicts = {"q": (Judgement(0.1, 1, 0), Judgement(0.9, 1, 0))}
    assert gold_rank(close, verdicts, None) == 2
    assert gold_rank(close, verdicts, JudgeSettings(margin=0.05, weight=1.0)) == 1
    assert gold_rank(close, verdicts, JudgeSettings(margin=0.0, on_dense_disagreement=False)) == 2


def test_the_rule_is_chosen_on_train_and_prefers_fewer_judgements_among_equals() -> None:
    # Judging helps the close call and hurts nothing: the smallest margin that catches it wins.
    train = [view("close", 1, [0.51, 0.50]), view("wide", 0, [0.9, 0.2])]
    verdicts = {
        "close": (Judgement(0.1, 1, 0), Judgement(0.9, 1, 0)),
        "wide": (Judgement(0.4, 1, 0), Judgement(0.6, 1, 0)),
    }
    rule = choose_rule(train, verdicts)
    assert metrics(train, verdicts, rule).recall_at_1 == 1.0
    assert rule.margin == 0.05 and not rule.on_dense_disagreement


def test_verdicts_are_cached_by_model_and_prompt(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "v.jsonl")
    messages = [ChatMessage(role="user", content="x")]
    key = VerdictCache.key("m", messages)
    cache.put(key, Judgement(0.7, 12.0, 3.0))
    again = VerdictCache(tmp_path / "v.jsonl")
    assert again.get(key) == Judgement(0.7, 12.0, 3.0)
    assert again.get(VerdictCache.key("other model", messages)) is None


def test_the_report_judges_once_and_keeps_heldout_out_of_the_choice(tmp_path: Path) -> None:
    sets = [
        candidates("t1", "train", [0.60, 0.59, 0.2], gold=1),
        candidates("t2", "train", [0.90, 0.30, 0.2], gold=0),
        candidates("h1", "heldout", [0.70, 0.69, 0.1], gold=1),
        candidates("h2", "heldout", [0.70, 0.69, 0.1], gold=0, answerable=False),
    ]
    judge = ScriptedJudge({"t1 passage 1", "h1 passage 1"})
    report = judge_report({"c": sets}, FUSION, judge, tmp_path / "v.jsonl")
    # Only answerable questions with a close call are judged, two passages each.
    assert judge.calls == 4
    assert report["c heldout fusion"].startswith("recall@1 0.000")
    assert report["c heldout fusion + judge"].startswith("recall@1 1.000")
    assert report["c heldout judge runs"] == "2 of 2 questions (100%)"
    again = ScriptedJudge(set())
    judge_report({"c": sets}, FUSION, again, tmp_path / "v.jsonl")
    assert again.calls == 0  # every verdict came from the cache


def test_the_limit_keeps_the_first_questions_of_each_split(tmp_path: Path) -> None:
    sets = [
        candidates("t1", "train", [0.60, 0.59], gold=1),
        candidates("t2", "train", [0.60, 0.59], gold=1),
        candidates("h1", "heldout", [0.60, 0.59], gold=1),
        candidates("h2", "heldout", [0.60, 0.59], gold=1),
    ]
    judge = ScriptedJudge({"passage 1"})
    report = judge_report({"c": sets}, FUSION, judge, tmp_path / "v.jsonl", limit=1)
    assert judge.calls == 4
    assert report["c train fusion"].endswith("(n=1)") and report["c heldout fusion"].endswith("(n=1)")
