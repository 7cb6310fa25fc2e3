"""`confidante gate eval-pii --split`: the development set and the held-back set are read apart,
and a sentence that leaks only a bare place name is counted apart from one that leaks a person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routing.gate import SensitivityGate
from routing.pii_eval import evaluate, format_report, load_records
from routing.policy import load_policy
from routing.recognizers import Finding


def _record(text: str, *spans: tuple[str, str]) -> dict[str, object]:
    return {
        "full_text": text,
        "spans": [
            {
                "entity_type": kind,
                "start_position": text.index(value),
                "end_position": text.index(value) + len(value),
            }
            for kind, value in spans
        ],
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    dev = [_record("Call Ana Silva today", ("PERSON", "Ana Silva"))]
    held = [_record("Flights to Lisbon", ("GPE", "Lisbon")), _record("Ask Bo Chen", ("PERSON", "Bo Chen"))]
    (tmp_path / "synth_dataset_v2.json").write_text(json.dumps(dev), encoding="utf-8")
    (tmp_path / "generated_small.json").write_text(json.dumps(held), encoding="utf-8")
    return tmp_path


def test_splits_read_their_own_files(data_dir: Path) -> None:
    assert len(load_records(data_dir, "dev")) == 1
    assert len(load_records(data_dir, "heldout")) == 2
    assert len(load_records(data_dir, "all")) == 3
    with pytest.raises(ValueError, match="unknown split"):
        load_records(data_dir, "test")


class _NamesOnly:
    """Finds "Ana Silva" only: "Bo Chen" and "Lisbon" leak."""

    def find(self, text: str) -> list[Finding]:
        start = text.find("Ana Silva")
        return [Finding("PERSON", start, start + 9, 0.9, "fake")] if start >= 0 else []


def test_leaks_of_people_and_of_places_are_counted_apart(data_dir: Path) -> None:
    gate = SensitivityGate(load_policy(None), _NamesOnly())
    try:
        report = evaluate(gate, load_records(data_dir, "all"))
    finally:
        gate.close()
    assert report.sentences_with_values == 3
    assert report.personal_leaked_sentences == 1  # "Ask Bo Chen"
    assert report.any_leaked_sentences == 2  # ... and "Flights to Lisbon"
    assert "1 of 3 with values (33.3%)" in format_report(report)
