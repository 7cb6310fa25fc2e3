"""The pilot's success metrics per variant, each with an honest interval or "not enough data yet".

Pure functions over `TurnFacts` (what `ExperimentStore` read back for one experiment): nothing
here touches the database or a model, and nothing here ever sees message text. Definitions:

- task completion: a thumbs-up; or, without thumbs, an answered turn after which the user moved
  on without correcting, rephrasing or escalating within the next two turns (a thumbs-down, a
  failed turn or an escalation of the turn itself is not completed);
- satisfaction: the share of thumbs-up among the turns that got thumbs;
- user corrections: the share of follow-up turns that correct or rephrase the previous question;
- hallucination: the share of checked answers (cited passages) with a sentence no passage supports;
- escalation: the share of turns handed to a person;
- latency p50/p95/p99, cost per query, tokens per query;
- where they apply: model calls per query (tool rounds, summary steps), tool calls per query and
  the share of tool loops a limit stopped (tools), the share of summaries with a map step that fell
  back to quoted sentences (summaries).

Rates carry Wilson 95 % intervals; means a seeded percentile bootstrap (deterministic: the same
facts always print the same interval). Below `MIN_N` a figure is `None` with its n, shown as "not
enough data yet".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

MIN_N = 20
Z95 = 1.959963984540054
# A tail percentile is only estimated with this many observations beyond it (p95: n >= 100,
# p99: n >= 500); with fewer, a bootstrap interval of p99 is narrow and wrong.
TAIL_OBSERVATIONS = 5
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 18
FAILED_OUTCOMES = frozenset({"error", "busy", "blocked", "over_budget", "cancelled", "escalated"})


@dataclass(frozen=True, slots=True)
class TurnFacts:
    variant: str
    thread_id: str
    started_at: datetime
    outcome: str
    escalated: bool = False
    corrects_previous: bool = False
    unsupported_sentences: int | None = None
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    tokens: int = 0
    thumbs: int | None = None  # 1 up, 0 down, None none
    # Per capability; None where it does not apply or was not recorded.
    model_calls: int | None = None
    tool_calls: int | None = None
    tool_limit: bool | None = None  # a tool loop ran and a limit (steps, time, tokens, repeat) ended it
    map_steps: int | None = None
    quoted_steps: int | None = None


@dataclass(frozen=True, slots=True)
class Estimate:
    """A figure with its 95 % interval; `value` is None below the minimum n."""

    n: int
    value: float | None
    low: float | None = None
    high: float | None = None

    @property
    def enough(self) -> bool:
        return self.value is not None


@dataclass(frozen=True, slots=True)
class VariantMetrics:
    variant: str
    turns: int
    task_completion: Estimate
    satisfaction: Estimate
    correction_rate: Estimate
    hallucination_rate: Estimate
    escalation_rate: Estimate
    latency_p50_ms: Estimate
    latency_p95_ms: Estimate
    latency_p99_ms: Estimate
    cost_per_query_usd: Estimate
    tokens_per_query: Estimate
    model_calls_per_query: Estimate
    tool_calls_per_query: Estimate
    tool_limit_rate: Estimate
    quoted_summary_rate: Estimate


def wilson(successes: int, n: int, *, min_n: int = MIN_N) -> Estimate:
    """Wilson score interval: stays inside [0, 1] and is honest at 0 % and 100 %."""
    if n < max(min_n, 1):
        return Estimate(n, None)
    p = successes / n
    denominator = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return Estimate(n, p, max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean(values: Sequence[float], *, min_n: int = MIN_N) -> Estimate:
    """The mean with a seeded 95 % percentile-bootstrap interval."""
    n = len(values)
    if n < max(min_n, 1):
        return Estimate(n, None)
    data = np.asarray(values, dtype=float)
    means = _resampled(data, lambda sample: sample.mean(axis=1))
    low, high = np.percentile(means, [2.5, 97.5])
    return Estimate(n, float(data.mean()), float(low), float(high))


def bootstrap_percentile(values: Sequence[float], q: float, *, min_n: int = MIN_N) -> Estimate:
    """A latency percentile with a seeded bootstrap interval, once the tail has enough data."""
    n = len(values)
    tail_n = math.ceil(TAIL_OBSERVATIONS / (1 - q / 100)) if q > 50 else 0
    if n < max(min_n, tail_n, 1):
        return Estimate(n, None)
    data = np.asarray(values, dtype=float)
    stats = _resampled(data, lambda sample: np.percentile(sample, q, axis=1))
    low, high = np.percentile(stats, [2.5, 97.5])
    return Estimate(n, float(np.percentile(data, q)), float(low), float(high))


def _resampled(data: np.ndarray, statistic: object) -> np.ndarray:
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    out: list[np.ndarray] = []
    batch = max(1, min(BOOTSTRAP_SAMPLES, 2_000_000 // len(data)))  # bounded memory
    done = 0
    while done < BOOTSTRAP_SAMPLES:
        size = min(batch, BOOTSTRAP_SAMPLES - done)
        sample = data[rng.integers(0, len(data), size=(size, len(data)))]
        out.append(statistic(sample))  # type: ignore[operator]
        done += size
    return np.concatenate(out)


def completed(turn: TurnFacts, following: Sequence[TurnFacts]) -> bool:
    """Task completion of one turn given the (up to two) turns that followed it in its thread."""
    if turn.thumbs is not None:
        return turn.thumbs == 1
    if turn.escalated or turn.outcome in FAILED_OUTCOMES:
        return False
    return not any(later.corrects_previous or later.escalated for later in following[:2])


def compare(
    facts: Sequence[TurnFacts], variants: Sequence[str], *, min_n: int = MIN_N
) -> list[VariantMetrics]:
    """One `VariantMetrics` per named variant (in that order), from all the experiment's turns."""
    threads: dict[str, list[TurnFacts]] = defaultdict(list)
    for turn in sorted(facts, key=lambda t: t.started_at):
        threads[turn.thread_id].append(turn)
    completions: dict[str, list[bool]] = defaultdict(list)
    follow_ups: dict[str, list[bool]] = defaultdict(list)
    for turns in threads.values():
        for index, turn in enumerate(turns):
            completions[turn.variant].append(completed(turn, turns[index + 1 : index + 3]))
            if index > 0:
                follow_ups[turn.variant].append(turn.corrects_previous)
    return [
        _variant_metrics(
            name, [t for t in facts if t.variant == name], completions[name], follow_ups[name], min_n
        )
        for name in variants
    ]


def _variant_metrics(
    name: str, turns: list[TurnFacts], completions: list[bool], follow_ups: list[bool], min_n: int
) -> VariantMetrics:
    thumbed = [t.thumbs for t in turns if t.thumbs is not None]
    checked = [t.unsupported_sentences for t in turns if t.unsupported_sentences is not None]
    answered = [t for t in turns if t.outcome not in ("blocked", "over_budget")]
    latencies = [t.latency_ms for t in answered]
    loops = [t.tool_limit for t in answered if t.tool_limit is not None]
    summaries = [t.quoted_steps for t in answered if t.map_steps is not None]
    return VariantMetrics(
        variant=name,
        turns=len(turns),
        task_completion=wilson(sum(completions), len(completions), min_n=min_n),
        satisfaction=wilson(sum(1 for v in thumbed if v == 1), len(thumbed), min_n=min_n),
        correction_rate=wilson(sum(follow_ups), len(follow_ups), min_n=min_n),
        hallucination_rate=wilson(sum(1 for u in checked if u > 0), len(checked), min_n=min_n),
        escalation_rate=wilson(sum(t.escalated for t in turns), len(turns), min_n=min_n),
        latency_p50_ms=bootstrap_percentile(latencies, 50, min_n=min_n),
        latency_p95_ms=bootstrap_percentile(latencies, 95, min_n=min_n),
        latency_p99_ms=bootstrap_percentile(latencies, 99, min_n=min_n),
        cost_per_query_usd=bootstrap_mean([t.cost_usd for t in answered], min_n=min_n),
        tokens_per_query=bootstrap_mean([float(t.tokens) for t in answered], min_n=min_n),
        model_calls_per_query=bootstrap_mean(
            [float(t.model_calls) for t in answered if t.model_calls is not None], min_n=min_n
        ),
        tool_calls_per_query=bootstrap_mean(
            [float(t.tool_calls) for t in answered if t.tool_calls is not None], min_n=min_n
        ),
        tool_limit_rate=wilson(sum(loops), len(loops), min_n=min_n),
        quoted_summary_rate=wilson(sum(1 for q in summaries if q), len(summaries), min_n=min_n),
    )
