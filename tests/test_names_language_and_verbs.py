"""Issue 12: one-word "names" that are a language or an instruction's verb are dropped, real names kept."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from routing.names import refine_person_findings
from routing.recognizers import Finding


def _types_of(text: str, word: str, entity_type: str = "PERSON") -> list[str]:
    start = text.index(word)
    found = refine_person_findings(text, [Finding(entity_type, start, start + len(word), 0.85, "test")])
    return [f"{f.entity_type}:{text[f.start : f.end]}" for f in found]


@pytest.mark.parametrize(
    ("text", "word", "entity_type"),
    [
        ("Translate into German: the build is green", "German", "PERSON"),
        ("Convert 30 degrees Celsius to Fahrenheit", "Fahrenheit", "LOCATION"),
        ("Summarize the Q3 roadmap in three bullet points", "Summarize", "PERSON"),
        ("Hey team, Repeat the last answer.", "Repeat", "PERSON"),
        ("Convert 30 degrees Celsius to Fahrenheit", "Convert", "PERSON"),
    ],
)
def test_language_names_and_instruction_verbs_are_not_names(text: str, word: str, entity_type: str) -> None:
    assert _types_of(text, word, entity_type) == []


@pytest.mark.parametrize(
    "text",
    [
        "Margaret the new hire starts Monday",  # a known given name before "the" stays a name
        "Please ask Okonkwo about it",  # not sentence-initial
        "Call Priya about the contract",  # a verb-like position but no article right after the name
    ],
)
def test_names_are_kept(text: str) -> None:
    word = next(w for w in ("Margaret", "Okonkwo", "Priya") if w in text)
    assert f"PERSON:{word}" in _types_of(text, word)


def test_work_request_templates_never_land_in_heldback() -> None:
    path = Path(__file__).parent / "data" / "sensitivity" / "make_dataset.py"
    spec = importlib.util.spec_from_file_location("make_dataset", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    splits = {module._split_of(f"work:{i}") for i in range(len(module.WORK_FRAMES))}
    assert splits <= {"train", "dev"} and splits == {"train", "dev"}
