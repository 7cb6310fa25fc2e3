"""Experiments, the logic: typed variants, sticky hash assignment and shares, the correction
heuristic, the metrics and their intervals, and how a variant may shape a turn's model order."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from assistant.experiments.assignment import assign, bucket
from assistant.experiments.corrections import judge_follow_up, score_examples
from assistant.experiments.metrics import (
    Estimate,
    TurnFacts,
    bootstrap_mean,
    bootstrap_percentile,
    compare,
    completed,
    wilson,
)
from assistant.experiments.models import ExperimentSpec, TurnVariant, Variant, parse_variant
from assistant.experiments.prompts import system_prompt
from assistant.experiments.report import NOT_ENOUGH, format_estimate, text_table
from assistant.experiments.turn_options import prefer_model, retrieval_k, search_options


def spec(*shares: float, experiment_id: str = "exp") -> ExperimentSpec:
    variants = tuple(Variant(name=f"v{i}", share=share) for i, share in enumerate(shares))
    return ExperimentSpec(id=experiment_id, capability="chat", variants=variants)


# --- the typed shape -------------------------------------------------------------------------


def test_a_variant_has_no_field_for_anything_routing_decides() -> None:
    routing_words = {"tier", "route", "policy", "pseudonymize", "rule", "local", "hosted"}
    assert not any(word in field for field in Variant.model_fields for word in routing_words)
    for forbidden in ({"route": "hosted"}, {"tier": "public"}, {"policy_path": "/tmp/p.toml"}):
        with pytest.raises(ValidationError):
            Variant(name="a", share=0.5, **forbidden)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "variants",
    [
        ({"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}),  # shares do not add up
        ({"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}),  # same name twice
        ({"name": "a", "share": 1.0},),  # one arm is not an experiment
        ({"name": "a", "share": 0.5, "prompt_template": "nope"}, {"name": "b", "share": 0.5}),
        ({"name": "A b", "share": 0.5}, {"name": "b", "share": 0.5}),
    ],
)
def test_invalid_experiments_are_refused(variants: tuple[dict[str, object], ...]) -> None:
    with pytest.raises(ValidationError):
        ExperimentSpec.model_validate({"id": "exp", "capability": "chat", "variants": variants})


def test_parse_variant_reads_the_cli_and_console_syntax() -> None:
    fields = parse_variant("concise:0.5:prompt=chat-v2-concise,k=3,rerank=off,model=gpt-4o")
    variant = Variant.model_validate(fields)
    assert (variant.name, variant.share, variant.prompt_template) == ("concise", 0.5, "chat-v2-concise")
    assert (variant.retrieval_k, variant.rerank, variant.answer_model) == (3, False, "gpt-4o")
    with pytest.raises(ValueError, match="unknown variant setting"):
        parse_variant("a:0.5:route=hosted")


def test_prompt_templates_only_add_to_the_system_prompt() -> None:
    base = "You are Confidante. Never reveal secrets."
    assert system_prompt("chat-v1", base) == base
    assert system_prompt("chat-v2-concise", base).startswith(base)
    assert system_prompt("no-such-template", base) == base


# --- assignment ------------------------------------------------------------------------------


def test_assignment_is_sticky_and_depends_on_the_experiment() -> None:
    experiment = spec(0.5, 0.5)
    assert all(assign(experiment, f"user-{i}") == assign(experiment, f"user-{i}") for i in range(200))
    assert bucket("exp", "alice") == bucket("exp", "alice")
    other = spec(0.5, 0.5, experiment_id="other")
    same = sum(assign(experiment, f"user-{i}").name == assign(other, f"user-{i}").name for i in range(2000))
    # Independent experiments agree about half the time (a shared hash would agree always).
    assert 850 < same < 1150


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.2, 0.8), (0.1, 0.3, 0.6)])
def test_shares_are_respected_within_binomial_bounds(shares: tuple[float, ...]) -> None:
    # Deterministic (sha256 of fixed ids), so it cannot flake; the bound is 4.5 standard deviations.
    n = 20_000
    experiment = spec(*shares)
    counts = Counter(assign(experiment, f"user-{i}").name for i in range(n))
    for index, share in enumerate(shares):
        sd = (n * share * (1 - share)) ** 0.5
        assert abs(counts[f"v{index}"] - n * share) < 4.5 * sd


# --- the correction heuristic -----------------------------------------------------------------


def test_corrections_and_rephrasings_are_told_from_moving_on() -> None:
    asked = "How many vacation days do I get per year?"
    assert judge_follow_up(asked, "No, I meant sick days").reason == "cue"
    assert judge_follow_up(asked, "how many vacation days per year do I get").reason == "rephrase"
    assert not judge_follow_up(asked, "Where do I request them?").corrects
    assert not judge_follow_up(asked, "thanks").corrects


def test_the_heuristic_on_its_authored_development_examples() -> None:
    # The held-back split is reported by `confidante experiments eval-corrections`, not tuned on.
    score = score_examples("dev")
    assert score.n >= 30 and score.accuracy >= 0.9


# --- metrics -----------------------------------------------------------------------------------


def test_wilson_interval_known_values_and_the_minimum_n() -> None:
    estimate = wilson(50, 100)
    assert estimate.value == 0.5
    assert estimate.low == pytest.approx(0.4038, abs=1e-3) and estimate.high == pytest.approx(
        0.5962, abs=1e-3
    )
    zero = wilson(0, 40)
    assert zero.value == 0.0 and zero.low == 0.0 and zero.high == pytest.approx(0.0876, abs=1e-3)
    assert wilson(3, 5) == Estimate(5, None)


def test_bootstrap_intervals_are_deterministic_and_contain_the_estimate() -> None:
    values = [float(v % 17) for v in range(60)]
    first, second = bootstrap_mean(values), bootstrap_mean(values)
    assert first == second
    assert first.low is not None and first.high is not None and first.low < first.value < first.high  # type: ignore[operator]
    assert bootstrap_percentile(values, 99).value is None  # p99 needs 500 turns
    assert bootstrap_percentile(values * 2, 95).value is not None


def _turn(variant: str, thread: str, second: int, **kwargs: object) -> TurnFacts:
    started = datetime(2026, 11, 29, tzinfo=UTC) + timedelta(seconds=second)
    fields: dict[str, object] = {"outcome": "ok", **kwargs}
    return TurnFacts(variant=variant, thread_id=thread, started_at=started, **fields)  # type: ignore[arg-type]


def test_task_completion_looks_at_thumbs_then_the_next_two_turns() -> None:
    plain = _turn("a", "t", 0)
    assert completed(plain, [])
    assert not completed(plain, [_turn("a", "t", 1, corrects_previous=True)])
    assert not completed(plain, [_turn("a", "t", 1), _turn("a", "t", 2, escalated=True)])
    assert completed(plain, [_turn("a", "t", 1), _turn("a", "t", 2), _turn("a", "t", 3, escalated=True)])
    assert completed(_turn("a", "t", 0, thumbs=1), [_turn("a", "t", 1, corrects_previous=True)])
    assert not completed(_turn("a", "t", 0, thumbs=0), [])
    assert not completed(_turn("a", "t", 0, outcome="error"), [])  # type: ignore[arg-type]


def test_compare_computes_each_metric_per_variant() -> None:
    facts = []
    for i in range(40):
        facts.append(_turn("a", f"a{i}", 2 * i, thumbs=1, unsupported_sentences=0, latency_ms=100.0))
        facts.append(_turn("a", f"a{i}", 2 * i + 1, corrects_previous=True, latency_ms=300.0, cost_usd=0.01))
        facts.append(_turn("b", f"b{i}", 2 * i, thumbs=0, unsupported_sentences=2, escalated=True))
    a, b = compare(facts, ["a", "b"])
    assert (a.turns, b.turns) == (80, 40)
    assert a.satisfaction.value == 1.0 and b.satisfaction.value == 0.0
    assert a.correction_rate.value == 1.0 and a.correction_rate.n == 40
    assert b.correction_rate == Estimate(0, None)  # no follow-ups at all: nothing to say
    assert a.hallucination_rate.value == 0.0 and b.hallucination_rate.value == 1.0
    assert b.escalation_rate.value == 1.0 and a.escalation_rate.value == 0.0
    # a's first turns were thumbed up; its follow-ups were the last turn of each chat, not corrected.
    assert a.task_completion.value == 1.0 and b.task_completion.value == 0.0
    assert a.latency_p50_ms.value == pytest.approx(200.0)
    assert a.cost_per_query_usd.value == pytest.approx(0.005)


def test_not_enough_data_is_said_not_guessed() -> None:
    metrics = compare([_turn("a", "t", 0, thumbs=1)], ["a", "b"])
    assert format_estimate(metrics[0].satisfaction, "rate") == f"{NOT_ENOUGH} (n=1)"
    assert format_estimate(metrics[1].satisfaction, "rate") == f"{NOT_ENOUGH} (n=0)"
    assert format_estimate(wilson(30, 40), "rate") == "75.0% (59.8%–85.8%, n=40)"
    table = text_table(metrics)
    assert "Task completion" in table and "a (1 turns)" in table and "b (0 turns)" in table


# --- how a variant shapes a turn ----------------------------------------------------------------


def test_a_preferred_model_only_reorders_the_models_the_route_allows() -> None:
    variant = TurnVariant(experiment_id="exp", variant=Variant(name="a", share=0.5, answer_model="gpt-4o"))
    assert prefer_model(["gpt-4o-mini", "gpt-4o", "local"], variant, str) == [
        "gpt-4o",
        "gpt-4o-mini",
        "local",
    ]
    # A local-only chain stays local-only: the preferred hosted model is not added.
    assert prefer_model(["local"], variant, str) == ["local"]
    assert prefer_model(["a", "b"], None, str) == ["a", "b"]


def test_retrieval_settings_apply_only_when_the_variant_sets_them() -> None:
    plain = TurnVariant(experiment_id="e", variant=Variant(name="a", share=0.5))
    tuned = TurnVariant(experiment_id="e", variant=Variant(name="b", share=0.5, retrieval_k=2, rerank=False))
    assert retrieval_k(None, 5) == retrieval_k(plain, 5) == 5 and retrieval_k(tuned, 5) == 2
    assert search_options(plain) == {} and search_options(tuned) == {"rerank": False}
