"""`confidante eval sensitivity` on a tiny JSONL, with the real rules and a scripted classifier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from routing.cli import GATE_FACTORY, eval_sensitivity_command
from routing.gate import SensitivityGate
from routing.policy import load_policy
from routing.sensitivity_eval import evaluate, format_report, load_rows

ROWS = [
    {"text": "my SSN is 078-05-1120", "sensitive": True, "category": "identification", "form": "direct"},
    {"text": "the sugar thing I have had", "sensitive": True, "category": "health", "form": "implied"},
    {"text": "the weather thing I read about", "sensitive": True, "category": "health", "form": "implied"},
    {"text": "What is the PIN length requirement?", "sensitive": False, "category": "authentication",
     "form": "near_miss"},
    {"text": "Draft an agenda for Thursday", "sensitive": False, "category": "none", "form": "ordinary"},
]  # fmt: skip


class ScriptedScorer:
    """Says "health, 0.95" for texts mentioning sugar and "health, 0.10" otherwise."""

    def best(self, text: str) -> tuple[str, float]:
        return ("health", 0.95 if "sugar" in text else 0.10)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    return path


@pytest.fixture
def gate() -> Iterator[SensitivityGate]:
    gate = SensitivityGate(load_policy(), None, contextual=ScriptedScorer(), timeout_s=60)
    yield gate
    gate.close()


def test_figures_per_form_category_and_layer(data: Path, gate: SensitivityGate) -> None:
    report = evaluate(gate, load_rows(str(data))).as_dict()
    assert report["recall_by_form"]["direct"] == {"rate": 1.0, "n": 1}
    assert report["recall_by_form"]["implied"] == {"rate": 0.5, "n": 2}
    assert report["flagged_negatives"]["near_miss"] == {"rate": 0.0, "n": 1}
    assert report["attribution"] == {"classifier": 1, "missed": 1, "rules": 1}
    assert report["latency"]["p95_ms"] >= report["latency"]["p50_ms"] > 0
    text = format_report(evaluate(gate, load_rows(str(data))))
    assert "implied" in text and "078-05-1120" not in text


def test_command_prints_json_without_values(data: Path, gate: SensitivityGate) -> None:
    @click.group()
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.meta[GATE_FACTORY] = lambda: gate

    root.add_command(eval_sensitivity_command)
    result = CliRunner().invoke(root, ["eval-sensitivity", "--split", str(data), "--no-external", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["recall_by_category"]["identification"]["rate"] == 1.0
    assert "078-05-1120" not in result.output
    bad = CliRunner().invoke(root, ["eval-sensitivity", "--split", "nonsense"])
    assert bad.exit_code != 0
