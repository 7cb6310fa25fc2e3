"""The authored sensitivity dataset: split by template, and exactly what its generator writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

DATA = Path(__file__).parent / "data" / "sensitivity"
SPLITS = ("train", "dev", "heldback")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_dataset", DATA / "make_dataset.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(split: str) -> list[dict[str, object]]:
    with (DATA / f"{split}.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_no_template_is_in_two_splits() -> None:
    seen: dict[str, str] = {}
    for split in SPLITS:
        for row in _rows(split):
            template = str(row["template"])
            assert seen.setdefault(template, split) == split, template


def test_files_are_what_the_generator_writes() -> None:
    generator = _generator()
    expected: dict[str, list[dict[str, object]]] = {split: [] for split in SPLITS}
    for row in generator.generate():
        expected[generator._split_of(str(row["template"]))].append(row)
    for split in SPLITS:
        assert _rows(split) == expected[split], split


def test_new_templates_reach_the_held_back_split() -> None:
    held = {str(row["template"]) for row in _rows("heldback")}
    assert any(template.startswith("v5:near_miss:") for template in held)
    assert any(template.startswith("v5:implied:") for template in held)
    assert not any(template.startswith("work:") for template in held)
