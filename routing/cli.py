"""Command-line access to the sensitivity gate: classify a text, evaluate on labelled PII data.

The lead adds these commands to the `confidante` group. They print decisions (types, spans,
scores, reasons), never detected values.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from routing.gate import GateDecision, SensitivityGate, build_gate

if TYPE_CHECKING:
    from routing.pii_eval import EvalReport

# The app's command group puts a `() -> SensitivityGate` built from its settings under this key of
# the click context's `meta`, so this package never loads the app's settings itself.
GATE_FACTORY = "confidante.gate_factory"


def _gate() -> SensitivityGate:
    from models.files import ModelFileError
    from routing.policy import PolicyError
    from routing.settings import RoutingSettings

    factory = click.get_current_context().meta.get(GATE_FACTORY)
    try:
        return factory() if factory is not None else build_gate(RoutingSettings())
    except (PolicyError, ModelFileError) as exc:
        raise click.ClickException(str(exc)) from None


def _describe(decision: GateDecision) -> str:
    lines = [
        f"tier: {decision.tier.value}  route: {decision.route.value}  rule: {decision.rule}  "
        f"policy: {decision.policy_version}  ({decision.elapsed_ms:.1f} ms)"
    ]
    lines += [f"  - {reason}" for reason in decision.reasons]
    counts = decision.entity_counts()
    if counts:
        lines.append("entities: " + ", ".join(f"{name} x{count}" for name, count in sorted(counts.items())))
    return "\n".join(lines)


@click.command("classify")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def classify_command(text: str, as_json: bool) -> None:
    """Classify TEXT and print the sensitivity decision (tier, route, rule, reasons)."""
    decision = _gate().classify(text)
    if as_json:
        click.echo(json.dumps(decision.model_dump(mode="json"), ensure_ascii=False))
    else:
        click.echo(_describe(decision))


@click.command("eval-pii")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder with synth_dataset_v2.json / generated_small.json (presidio-research format).",
)
@click.option(
    "--split",
    type=click.Choice(["dev", "heldout", "all"]),
    default="all",
    show_default=True,
    help="dev = synth_dataset_v2.json, heldout = generated_small.json (held back from development).",
)
@click.option(
    "--unknown-names",
    is_flag=True,
    help="Also evaluate with every gold name left out of the name lists (names never seen), and print both.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_pii_command(data_dir: Path | None, split: str, unknown_names: bool, as_json: bool) -> None:
    """Per-entity precision / recall / F2 and regulated values that would leak, on labelled data."""
    from routing.pii_eval import DEFAULT_DATA_DIR, evaluate, load_records

    try:
        records = load_records(data_dir or DEFAULT_DATA_DIR, split)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    gate = _gate()
    report = evaluate(gate, records)
    if unknown_names:
        _echo_known_and_unknown(gate, records, report, as_json=as_json)
    else:
        from routing.pii_eval import format_report

        click.echo(json.dumps(report.as_dict()) if as_json else format_report(report))
    sys.stdout.flush()


def _echo_known_and_unknown(
    gate: SensitivityGate, records: list[dict[str, object]], known: EvalReport, *, as_json: bool
) -> None:
    from routing.pii_eval import evaluate_unknown_names, format_known_and_unknown, format_report

    unknown = evaluate_unknown_names(gate, records)
    if as_json:
        click.echo(json.dumps({"known_names": known.as_dict(), "unknown_names": unknown.as_dict()}))
        return
    click.echo(format_report(known) + "\n\nWith every gold name left out of the name lists:\n")
    click.echo(format_report(unknown) + "\n\n" + format_known_and_unknown(known, unknown))


@click.command("eval-sensitivity")
@click.option(
    "--split",
    default="heldback",
    show_default=True,
    help="train, dev, heldback, all, or a path to a JSONL of {text, sensitive, category, form}.",
)
@click.option("--no-external", is_flag=True, help="Skip the external benign text (spikee, SQuAD).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_sensitivity_command(split: str, no_external: bool, as_json: bool) -> None:
    """Not-public recall per category and form, false flags, layers and latency of the full gate."""
    from routing.sensitivity_eval import SPLITS, benign_texts, evaluate, flag_rate, format_report, load_rows

    if split not in (*SPLITS, "all") and not split.endswith(".jsonl"):
        raise click.BadParameter(f"{split!r} is not a split or a .jsonl file", param_hint="--split")
    try:
        rows = load_rows(split)
    except (OSError, ValueError, KeyError) as exc:
        raise click.ClickException(f"cannot read {split}: {exc}") from None
    gate = _gate()
    report = evaluate(gate, rows)
    if not no_external:
        report.external = {name: flag_rate(gate, texts) for name, texts in benign_texts().items()}
    click.echo(json.dumps(report.as_dict()) if as_json else format_report(report))
    sys.stdout.flush()


@click.group("gate")
def gate_group() -> None:
    """The sensitivity gate."""


gate_group.add_command(classify_command)
gate_group.add_command(eval_pii_command)
gate_group.add_command(eval_sensitivity_command)
