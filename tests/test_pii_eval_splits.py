"""`confidante gate eval-pii --split`: the development set and the held-back set are read apart,
and a sentence that leaks only a bare place name is counted apart from one that leaks a person.
The gates here get a long timeout: the first call loads the name gazetteer, slow on a loaded
machine, and these tests are about counting, not about the timeout (which fails closed)."""

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
    gate = SensitivityGate(load_policy(None), _NamesOnly(), timeout_s=60)
    try:
        report = evaluate(gate, load_records(data_dir, "all"))
    finally:
        gate.close()
    assert report.sentences_with_values == 3
    assert report.personal_leaked_sentences == 1  # "Ask Bo Chen"
    assert report.any_leaked_sentences == 2  # ... and "Flights to Lisbon"
    assert "1 of 3 with values (33.3%)" in format_report(report)


class _FirstMentionOnly:
    """Finds only the first mention of "Hakuba" (as the gate sometimes does)."""

    def find(self, text: str) -> list[Finding]:
        start = text.find("Hakuba")
        return [Finding("PERSON", start, start + 6, 0.9, "fake")] if start >= 0 else []


def test_a_value_masked_once_counts_as_masked_everywhere_as_on_the_wire(tmp_path: Path) -> None:
    # routing.pseudonymize replaces a known value wherever it appears (any case); the eval must
    # measure that, not only the detected span. A different name is still a leak.
    records = [
        _record("Hakuba had given HAKUBA his card", ("PERSON", "Hakuba"), ("PERSON", "HAKUBA")),
        _record("Hakuba met Hakubasan", ("PERSON", "Hakuba"), ("PERSON", "Hakubasan")),
    ]
    records[0]["spans"][1]["start_position"] = 17  # type: ignore[index]
    records[0]["spans"][1]["end_position"] = 23  # type: ignore[index]
    gate = SensitivityGate(load_policy(None), _FirstMentionOnly(), timeout_s=60)
    try:
        report = evaluate(gate, records)
    finally:
        gate.close()
    assert report.personal_leaked_sentences == 1  # only "Hakubasan": a whole-word match is required
