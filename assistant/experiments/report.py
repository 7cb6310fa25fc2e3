"""The metrics of several variants side by side, as text (CLI, replay) and as HTML cells (console).

One list of rows per capability (`rows_for`) says what is shown and how each figure is formatted,
so the console and `eval replay` print the same metrics the same way. Below the minimum n a cell
reads "not enough data yet (n=…)", never a number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

from assistant.experiments.metrics import Estimate, VariantMetrics
from assistant.experiments.models import Variant

Kind = Literal["rate", "ms", "usd", "tokens", "count"]
Row = tuple[str, str, Kind]
NOT_ENOUGH = "not enough data yet"

ROWS: tuple[Row, ...] = (
    ("Task completion", "task_completion", "rate"),
    ("Satisfaction (thumbs up)", "satisfaction", "rate"),
    ("User corrections", "correction_rate", "rate"),
    ("Answers with an unsupported sentence", "hallucination_rate", "rate"),
    ("Escalations", "escalation_rate", "rate"),
    ("Latency p50", "latency_p50_ms", "ms"),
    ("Latency p95", "latency_p95_ms", "ms"),
    ("Latency p99", "latency_p99_ms", "ms"),
    ("Cost per query", "cost_per_query_usd", "usd"),
    ("Tokens per query", "tokens_per_query", "tokens"),
)
# A tools experiment's turns are chat turns: the same figures, and what the tool loop did.
TOOL_ROWS: tuple[Row, ...] = (
    *ROWS,
    ("Model calls per query", "model_calls_per_query", "count"),
    ("Tool calls per query", "tool_calls_per_query", "count"),
    ("Tool loops stopped by a limit", "tool_limit_rate", "rate"),
)
# A summary has no follow-up turns to correct or rephrase: thumbs, time, cost and quoting.
SUMMARY_ROWS: tuple[Row, ...] = (
    ("Satisfaction (thumbs up)", "satisfaction", "rate"),
    ("Time to summary p50", "latency_p50_ms", "ms"),
    ("Time to summary p95", "latency_p95_ms", "ms"),
    ("Cost per summary", "cost_per_query_usd", "usd"),
    ("Tokens per summary", "tokens_per_query", "tokens"),
    ("Model calls per summary", "model_calls_per_query", "count"),
    ("Summaries with a quoted (not model-written) step", "quoted_summary_rate", "rate"),
)


def rows_for(capability: str) -> tuple[Row, ...]:
    return {"tools": TOOL_ROWS, "summaries": SUMMARY_ROWS}.get(capability, ROWS)


# Reviewers grade answers of chat and document Q&A turns, under those experiments' variants.
GRADED_CAPABILITIES = frozenset({"chat", "document_qa"})


def describe_variant(variant: Variant, capability: str) -> str:
    """What a variant changes, in words: "chat-v2-concise, k=3", "map prompt map-v2-facts", "tools off"."""
    if capability == "summaries":
        parts = [f"map prompt {variant.map_prompt}"] if variant.map_prompt else []
        parts += [f"batch {variant.batch_map_tokens} tokens"] if variant.batch_map_tokens is not None else []
    elif capability == "tools":
        parts = ["tools off"] if variant.tools is False else []
        steps = variant.tool_max_steps
        parts += [f"at most {steps} tool step{'' if steps == 1 else 's'}"] if steps else []
    else:
        parts = [variant.prompt_template]
        parts += [f"k={variant.retrieval_k}"] if variant.retrieval_k else []
        parts += [f"rerank {'on' if variant.rerank else 'off'}"] if variant.rerank is not None else []
        parts += [f"model {variant.answer_model}"] if variant.answer_model else []
    return ", ".join(parts) or "as configured"


FORMATS: dict[Kind, Callable[[float], str]] = {
    "rate": lambda v: f"{v * 100:.1f}%",
    "ms": lambda v: f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms",
    "usd": lambda v: f"${v:.4f}",
    "tokens": lambda v: f"{v:,.0f}",
    "count": lambda v: f"{v:.2f}",
}


def format_estimate(estimate: Estimate, kind: Kind) -> str:
    """ "42.0% (31.2–53.5%, n=80)" or "not enough data yet (n=7)"."""
    if estimate.value is None:
        return f"{NOT_ENOUGH} (n={estimate.n})"
    fmt = FORMATS[kind]
    if estimate.low is None or estimate.high is None:
        return f"{fmt(estimate.value)} (n={estimate.n})"
    return f"{fmt(estimate.value)} ({fmt(estimate.low)}–{fmt(estimate.high)}, n={estimate.n})"


class Graded(Protocol):
    """Human grades of one variant's reviewed answers (`assistant.review.accuracy.GradedAccuracy`)."""

    @property
    def correct(self) -> int: ...
    @property
    def partly(self) -> int: ...
    @property
    def wrong(self) -> int: ...
    @property
    def accuracy(self) -> Estimate: ...


GRADED_LABELS = ("Graded accuracy (human review)", "Graded correct / partly / wrong")


def graded_rows(variants: Sequence[str], graded: Mapping[str, Graded]) -> list[list[str]]:
    """The two review rows, one cell per variant: accuracy with its interval, and the counts.

    A variant with no graded answer reads "not enough data yet (n=0)", like any other figure."""
    accuracy = [
        format_estimate(graded[name].accuracy, "rate") if name in graded else f"{NOT_ENOUGH} (n=0)"
        for name in variants
    ]
    counts = [
        f"{graded[name].correct} / {graded[name].partly} / {graded[name].wrong}"
        if name in graded
        else "0 / 0 / 0"
        for name in variants
    ]
    return [[GRADED_LABELS[0], *accuracy], [GRADED_LABELS[1], *counts]]


def cells(metrics: VariantMetrics, rows: Sequence[Row] = ROWS) -> list[str]:
    return [format_estimate(getattr(metrics, attribute), kind) for _, attribute, kind in rows]


def text_table(
    metrics: Sequence[VariantMetrics], graded: Mapping[str, Graded] | None = None, rows: Sequence[Row] = ROWS
) -> str:
    """Metrics down, variants across; 95 % intervals in brackets. With `graded` (live traffic, not
    a replay: nobody grades a replayed answer), the human review rows follow."""
    header = ["metric", *[f"{m.variant} ({m.turns} turns)" for m in metrics]]
    body = [
        [label, *values]
        for (label, _, _), *values in zip(rows, *[cells(m, rows) for m in metrics], strict=True)
    ]
    if graded is not None:
        body += graded_rows([m.variant for m in metrics], graded)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *body]
    ]
    return "\n".join(line.rstrip() for line in lines)
