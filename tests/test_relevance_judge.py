"""The relevance judge step with a scripted yes/no model: when it runs, when not, fail-open, the rule."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from knowledge.relevance_judge import (
    RelevanceJudge,
    disagreement,
    judge_messages,
    judge_of,
    judged_order,
)
from knowledge.rerank import Reranker, build_reranker, load_fusion
from knowledge.retrieval import RetrievedChunk
from knowledge.settings import JudgeSettings, RerankSettings
from models.base import (
    ChatMessage,
    ModelBadResponse,
    ModelBusy,
    ModelTimeout,
    YesNoJudge,
    YesNoVerdict,
)
from routing.tiers import Tier

SETTINGS = JudgeSettings(margin=0.1, on_dense_disagreement=True, weight=1.0, timeout_s=5.0)


class ScriptedJudge:
    """P(yes) by a word the passage contains; records what it was asked; can be busy or fail."""

    name = "scripted-judge"

    def __init__(
        self,
        p_yes: dict[str, float],
        *,
        busy: bool = False,
        fail: BaseException | None = None,
        clock: list[float] | None = None,
        takes_s: float = 0.0,
    ) -> None:
        self.p_yes = p_yes
        self.busy = busy
        self.fail = fail
        self.clock = clock
        self.takes_s = takes_s
        self.asked: list[str] = []
        self.timeouts: list[float] = []

    def idle(self) -> bool:
        return not self.busy

    def judge_yes_no(self, messages: Sequence[ChatMessage], *, timeout_s: float) -> YesNoVerdict:
        text = messages[-1].content
        self.asked.append(text)
        self.timeouts.append(timeout_s)
        if self.clock is not None:
            self.clock[0] += self.takes_s
        if self.fail is not None:
            raise self.fail
        p = next(v for word, v in self.p_yes.items() if word in text)
        return YesNoVerdict(p_yes=p, yes_logprob=-1.0, no_logprob=-1.0, latency_ms=1.0, model=self.name)


def chunk(word: str, fused: float, dense: float | None) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=word,
        doc_id="doc",
        version_id="v1",
        title="Doc",
        display_name="doc.md",
        page=None,
        section="",
        text=f"passage about {word}",
        start=0,
        end=10,
        score=0.1,
        dense_similarity=dense,
        bm25_score=None,
        dense_rank=None,
        bm25_rank=None,
        rerank_score=fused,
        tier=Tier.PUBLIC,
    )


def ids(chunks: Sequence[RetrievedChunk]) -> list[str]:
    return [c.chunk_id for c in chunks]


def test_the_scripted_judge_meets_the_protocol() -> None:
    assert isinstance(ScriptedJudge({}), YesNoJudge)


def test_it_does_not_run_when_the_signals_agree() -> None:
    model = ScriptedJudge({"alpha": 0.0, "beta": 1.0})
    chunks = [chunk("alpha", 0.8, 0.7), chunk("beta", 0.3, 0.6), chunk("gamma", 0.1, 0.5)]
    order, outcome = RelevanceJudge(model, SETTINGS).apply("q", chunks)
    assert ids(order) == ["alpha", "beta", "gamma"]
    assert outcome.reason == "agree" and not outcome.ran
    assert model.asked == []


def test_a_close_margin_runs_it_on_the_top_two_only_and_can_swap_them() -> None:
    model = ScriptedJudge({"alpha": 0.05, "beta": 0.95})
    chunks = [chunk("alpha", 0.55, 0.7), chunk("beta", 0.5, 0.6), chunk("gamma", 0.4, 0.5)]
    order, outcome = RelevanceJudge(model, SETTINGS).apply("when?", chunks)
    assert ids(order) == ["beta", "alpha", "gamma"]
    assert outcome.ran and outcome.swapped and outcome.disagreement is not None
    assert outcome.disagreement.close and not outcome.disagreement.dense_disagrees
    assert len(model.asked) == 2 and all("when?" in text for text in model.asked)


def test_dense_disagreeing_with_the_fusion_runs_it_despite_a_wide_margin() -> None:
    model = ScriptedJudge({"alpha": 0.9, "beta": 0.2})
    chunks = [chunk("alpha", 0.9, 0.5), chunk("beta", 0.2, 0.8)]
    order, outcome = RelevanceJudge(model, SETTINGS).apply("q", chunks)
    assert outcome.ran and outcome.disagreement is not None and outcome.disagreement.dense_disagrees
    assert ids(order) == ["alpha", "beta"] and not outcome.swapped


def test_dense_disagreement_can_be_switched_off() -> None:
    model = ScriptedJudge({"alpha": 0.1, "beta": 0.9})
    settings = SETTINGS.model_copy(update={"on_dense_disagreement": False})
    _, outcome = RelevanceJudge(model, settings).apply(
        "q", [chunk("alpha", 0.9, 0.5), chunk("beta", 0.2, 0.8)]
    )
    assert outcome.reason == "agree" and model.asked == []


def test_a_busy_model_is_not_asked_and_the_fusion_order_stands() -> None:
    model = ScriptedJudge({"alpha": 0.0, "beta": 1.0}, busy=True)
    chunks = [chunk("alpha", 0.5, 0.7), chunk("beta", 0.49, 0.6)]
    order, outcome = RelevanceJudge(model, SETTINGS).apply("q", chunks)
    assert ids(order) == ["alpha", "beta"] and outcome.reason == "busy" and model.asked == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(ModelTimeout("slow"), "timeout"), (ModelBusy(5), "busy"), (ModelBadResponse("no yes/no"), "error")],
)
def test_a_failing_judgement_falls_back_to_the_fusion_order(failure: BaseException, reason: str) -> None:
    model = ScriptedJudge({}, fail=failure)
    chunks = [chunk("alpha", 0.5, 0.7), chunk("beta", 0.49, 0.6)]
    order, outcome = RelevanceJudge(model, SETTINGS).apply("q", chunks)
    assert ids(order) == ["alpha", "beta"] and outcome.reason == reason and not outcome.swapped


def test_the_time_budget_covers_both_judgements() -> None:
    clock = [100.0]
    model = ScriptedJudge({"alpha": 0.0, "beta": 1.0}, clock=clock, takes_s=6.0)
    judge = RelevanceJudge(model, SETTINGS, clock=lambda: clock[0])
    order, outcome = judge.apply("q", [chunk("alpha", 0.5, 0.7), chunk("beta", 0.49, 0.6)])
    # The first judgement used the whole 5 s budget: the second is never asked, nothing moves.
    assert model.timeouts == [5.0]
    assert outcome.reason == "timeout" and ids(order) == ["alpha", "beta"]


def test_the_second_judgement_gets_only_what_is_left_of_the_budget() -> None:
    clock = [0.0]
    model = ScriptedJudge({"alpha": 0.0, "beta": 1.0}, clock=clock, takes_s=2.0)
    RelevanceJudge(model, SETTINGS, clock=lambda: clock[0]).apply(
        "q", [chunk("alpha", 0.5, 0.7), chunk("beta", 0.49, 0.6)]
    )
    assert model.timeouts == [5.0, 3.0]


def test_the_combination_rule() -> None:
    # Weight 0: the fusion alone; a confident fusion outweighs a lukewarm judge at weight 1.
    assert judged_order([0.6, 0.4], [0.0, 1.0], weight=0.0) == [0, 1]
    assert judged_order([0.9, 0.1], [0.4, 0.6], weight=1.0) == [0, 1]
    # A close fusion call goes the judge's way; a tie keeps the fusion's order.
    assert judged_order([0.52, 0.48], [0.2, 0.8], weight=1.0) == [1, 0]
    assert judged_order([0.5, 0.5], [0.5, 0.5], weight=1.0) == [0, 1]


def test_disagreement_is_read_from_the_fusions_own_outputs() -> None:
    seen = disagreement([0.7, 0.65, 0.1], [0.4, None, 0.9], SETTINGS)
    assert seen.close and seen.dense_top == 2 and seen.dense_disagrees and seen.needs_judge
    assert abs(seen.margin - 0.05) < 1e-9
    assert not disagreement([0.9, 0.2], [0.8, 0.3], SETTINGS).needs_judge


def test_the_prompt_puts_the_question_first_and_bounds_the_passage() -> None:
    messages = judge_messages("Who?", "word " * 1000, max_chars=120)
    user = messages[-1].content
    assert user.startswith("Question: Who?") and len(user) < 300


def test_the_reranker_applies_the_judge_after_the_fusion(tmp_path: Path) -> None:
    model = ScriptedJudge({"alpha": 0.0, "beta": 1.0, "gamma": 0.0})
    # Everything ties in the fusion (identical passages but for one word): the margin is 0.
    chunks = [
        chunk(word, 0.0, 0.5).model_copy(update={"rerank_score": None}) for word in ("alpha", "beta", "gamma")
    ]
    judged = Reranker(load_fusion(), judge=RelevanceJudge(model, SETTINGS))
    plain = Reranker(load_fusion())
    assert ids(plain.rerank("passage", chunks))[:2] == ["alpha", "beta"]
    assert ids(judged.rerank("passage", chunks))[:2] == ["beta", "alpha"]
    assert len(model.asked) == 2


def test_build_reranker_attaches_the_judge_only_when_auto() -> None:
    model = ScriptedJudge({})
    auto = build_reranker(RerankSettings(judge="auto"), embedder=None, judge_model=model)
    off = build_reranker(RerankSettings(judge="off"), embedder=None, judge_model=model)
    no_model = build_reranker(RerankSettings(judge="auto"), embedder=None)
    assert auto is not None and auto.judge is not None and auto.judge.model is model
    assert off is not None and off.judge is None
    assert no_model is not None and no_model.judge is None


def test_the_judge_is_found_inside_a_wrapped_private_model() -> None:
    from models.base import ModelWrapper
    from models.fakes import scripted

    judge = ScriptedJudge({})

    class Wrapper(ModelWrapper):
        pass

    assert judge_of(Wrapper(judge)) is judge  # type: ignore[arg-type]
    assert judge_of(scripted("hello")) is None
