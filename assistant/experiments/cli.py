"""`confidante experiments create|list|stop|show|eval-corrections` and `confidante eval replay`.

Admin commands from the server's shell (the same trust as `confidante users`). A variant is
written `NAME:SHARE[:key=value,...]`: keys prompt, k, rerank (on/off) and model for chat and
document Q&A, e.g. `--variant control:0.5 --variant concise:0.5:prompt=chat-v2-concise,k=3`; map
and batch for summaries (`facts:0.5:map=map-v2-facts,batch=400`); tools (on/off) and steps for
tools (`--capability tools --variant on:0.5 --variant off:0.5:tools=off`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from assistant.experiments.metrics import MIN_N, compare
from assistant.experiments.models import CAPABILITIES, Experiment, ExperimentSpec, parse_variant
from assistant.experiments.report import GRADED_CAPABILITIES, describe_variant, rows_for, text_table
from assistant.experiments.store import ExperimentError, ExperimentStore
from assistant.governance.cli import _ctx
from assistant.identity import LOCAL_OPERATOR


def _store() -> ExperimentStore:
    return ExperimentStore(_ctx().engine)


def _variant(text: str) -> dict[str, Any]:
    try:
        return parse_variant(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _line(experiment: Experiment) -> str:
    arms = ", ".join(
        f"{v.name} {v.share:.0%} ({describe_variant(v, experiment.capability)})" for v in experiment.variants
    )
    return f"{experiment.id}  {experiment.status:<8} {experiment.capability:<12} {arms}"


@click.group("experiments")
def experiments() -> None:
    """A/B experiments: variants of a capability, assigned to users stickily by a hash."""


@experiments.command("create")
@click.argument("experiment_id")
@click.option("--capability", type=click.Choice(CAPABILITIES), default="chat", show_default=True)
@click.option("--variant", "variants", multiple=True, required=True, help="NAME:SHARE[:key=value,...]")
@click.option("--description", default="")
def create(experiment_id: str, capability: str, variants: tuple[str, ...], description: str) -> None:
    """Define and start EXPERIMENT_ID (one running experiment per capability)."""
    try:
        spec = ExperimentSpec.model_validate(
            {
                "id": experiment_id,
                "capability": capability,
                "variants": [_variant(v) for v in variants],
                "description": description,
            }
        )
        experiment = _store().create(spec, created_by=LOCAL_OPERATOR.user_id)
    except ValidationError as exc:
        raise click.ClickException(_first_error(exc)) from None
    except ExperimentError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_line(experiment))


@experiments.command("list")
def list_experiments() -> None:
    """Every experiment, newest first."""
    for experiment in _store().experiments():
        click.echo(_line(experiment))


@experiments.command("stop")
@click.argument("experiment_id")
def stop(experiment_id: str) -> None:
    """Stop EXPERIMENT_ID: its users get the default answers again; its figures stay."""
    try:
        click.echo(_line(_store().stop(experiment_id, by=LOCAL_OPERATOR.user_id)))
    except ExperimentError as exc:
        raise click.ClickException(str(exc)) from None


@experiments.command("show")
@click.argument("experiment_id")
@click.option("--min-n", type=click.IntRange(min=1), default=MIN_N, show_default=True)
def show(experiment_id: str, min_n: int) -> None:
    """The metrics of EXPERIMENT_ID's variants side by side, from live traffic, with the accuracy
    reviewers graded (counts only: no question, answer or note is printed)."""
    from assistant.review.accuracy import graded_accuracy_by_variant

    engine = _ctx().engine
    store = ExperimentStore(engine)
    experiment = store.get(experiment_id)
    if experiment is None:
        raise click.ClickException(f"No experiment named {experiment_id!r}.")
    names = [v.name for v in experiment.variants]
    graded = None
    if experiment.capability in GRADED_CAPABILITIES:
        graded = graded_accuracy_by_variant(engine, experiment_id, min_n=min_n)
    metrics = compare(store.turn_facts(experiment_id), names, min_n=min_n)
    click.echo(text_table(metrics, graded, rows_for(experiment.capability)))


@experiments.command("eval-corrections")
def eval_corrections() -> None:
    """Accuracy of the correction/rephrase heuristic on its authored examples, per split."""
    from assistant.experiments.corrections import score_examples

    for split in ("dev", "heldback"):
        score = score_examples(split)
        click.echo(
            f"{split:<9} accuracy {score.accuracy:.3f} ({score.correct}/{score.n}), "
            f"false positives {score.false_positives}, false negatives {score.false_negatives}"
        )


@click.command("replay")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--variants", required=True, help="Comma-separated variant names, e.g. a,b.")
@click.option("--experiment", "experiment_id", default=None, help="Default: the newest one with them.")
@click.option("--min-n", type=click.IntRange(min=1), default=MIN_N, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def eval_replay(
    questions: Path, variants: str, experiment_id: str | None, min_n: int, limit: int | None, as_json: bool
) -> None:
    """Run QUESTIONS.jsonl ({"question": ..., "follow_ups": [...]}) through each variant with the
    real pipeline, as the replay principal (no user, chat or ticket is touched; audit says replay)."""
    from assistant.experiments.replay import read_questions, replay
    from assistant.services import build_services
    from assistant.settings import load_settings

    names = [name.strip() for name in variants.split(",") if name.strip()]
    store = _store()
    experiment = _find(store, experiment_id, names)
    if experiment.capability not in ("chat", "document_qa"):
        # A replay asks chat questions with the chat variant fixed; summaries and tools variants
        # are applied elsewhere (the summary job, the tool loop) and would all answer alike.
        raise click.ClickException(
            f"Replay compares chat and document Q&A variants, not {experiment.capability}."
        )
    services = build_services(load_settings())
    try:
        metrics = asyncio.run(
            replay(services, experiment, names, read_questions(questions)[:limit], store=store, min_n=min_n)
        )
    finally:
        services.close()
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps([asdict(m) for m in metrics], indent=2))
    else:
        click.echo(f"experiment {experiment.id} ({experiment.capability}), replay of {questions.name}")
        click.echo(text_table(metrics, rows=rows_for(experiment.capability)))


def _find(store: ExperimentStore, experiment_id: str | None, names: list[str]) -> Experiment:
    candidates = [store.get(experiment_id)] if experiment_id else store.experiments()
    for experiment in candidates:
        if experiment is not None and all(n in {v.name for v in experiment.variants} for n in names):
            return experiment
    raise click.ClickException(f"No experiment has the variants {', '.join(names)}.")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"invalid experiment ({where}): {error['msg']}" if where else f"invalid experiment: {error['msg']}"
