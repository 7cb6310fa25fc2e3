"""Evaluating the gate on labelled PII sentences (presidio-research format).

Per entity class: token-level precision, recall and F2 (recall weighs more: a missed value leaks,
a false alarm only over-protects), and the number of sentences whose regulated values would have
reached a hosted model unmasked (not routed locally and not covered by a pseudonymized span).
The dataset's entity names are mapped to ours explicitly below; classes we do not target (dates,
titles, organisations, ages, ...) are not scored. Prints figures; never tunes anything.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from routing.gate import PiiSpan, SensitivityGate, resolve_overlaps
from routing.names import default_gazetteer, gazetteer_in_use
from routing.tiers import Route, Tier

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "pii" / "presidio_research"
DATA_FILES = ("synth_dataset_v2.json", "generated_small.json")

# Dataset entity name → our evaluation class.
GOLD_CLASS = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "ADDRESS",
    "ADDRESS": "ADDRESS",
    "ZIP_CODE": "ADDRESS",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "US_DRIVER_LICENSE": "DRIVER_LICENSE",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_BANK_NUMBER": "BANK_ACCOUNT",
}
# Our entity type → evaluation class (types not listed score as themselves).
PREDICTED_CLASS = {"STREET_ADDRESS": "ADDRESS", "PERSONAL_LOCATION": "LOCATION"}
# A masked address token counts whether it was found as a street address or as a place name.
ALSO_ACCEPTED = {"ADDRESS": {"LOCATION"}, "LOCATION": {"ADDRESS"}}
REGULATED_CLASSES = ("US_SSN", "CREDIT_CARD", "IBAN_CODE", "BANK_ACCOUNT", "DRIVER_LICENSE")
_TOKEN = re.compile(r"\w+")


@dataclass
class ClassScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f2(self) -> float:
        p, r = self.precision, self.recall
        return 5 * p * r / (4 * p + r) if p + r else 0.0


@dataclass
class EvalReport:
    sentences: int = 0
    scores: dict[str, ClassScore] = field(default_factory=dict)
    gold_spans: Counter[str] = field(default_factory=Counter)
    regulated_leaked_sentences: int = 0
    regulated_leaked_values: Counter[str] = field(default_factory=Counter)
    personal_leaked_sentences: int = 0
    # Sentences with any gold value, and those leaking any value including a bare place name.
    sentences_with_values: int = 0
    any_leaked_sentences: int = 0
    failed_closed: int = 0
    tiers: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "sentences": self.sentences,
            "entities": {
                name: {
                    "precision": round(s.precision, 4), "recall": round(s.recall, 4), "f2": round(s.f2, 4),
                    "tp": s.tp, "fp": s.fp, "fn": s.fn, "gold_spans": self.gold_spans[name],
                }
                for name, s in sorted(self.scores.items())
            },
            "regulated_leaked_sentences": self.regulated_leaked_sentences,
            "regulated_leaked_values": dict(self.regulated_leaked_values),
            "personal_leaked_sentences": self.personal_leaked_sentences,
            "sentences_with_values": self.sentences_with_values,
            "any_leaked_sentences": self.any_leaked_sentences,
            "failed_closed": self.failed_closed,
            "tiers": dict(self.tiers),
        }  # fmt: skip


# Named splits: v2 is the development set; `generated_small.json` is held back (look at its figures,
# never at its sentences, when changing the detectors).
SPLITS = {"dev": ("synth_dataset_v2.json",), "heldout": ("generated_small.json",), "all": DATA_FILES}


def load_records(data_dir: Path, split: str = "all") -> list[dict[str, object]]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (one of {', '.join(SPLITS)})")
    records: list[dict[str, object]] = []
    for name in SPLITS[split]:
        path = data_dir / name
        if path.is_file():
            records.extend(json.loads(path.read_text(encoding="utf-8")))
    if not records:
        raise FileNotFoundError(f"no evaluation files ({', '.join(SPLITS[split])}) in {data_dir}")
    return records


def _covered(start: int, end: int, text: str, masked: list[tuple[int, int]]) -> bool:
    return all(
        any(m_start <= index < m_end for m_start, m_end in masked)
        for index in range(start, end)
        if text[index].isalnum()
    )


def _score_tokens(
    text: str, gold: list[tuple[str, int, int]], spans: Iterable[PiiSpan], report: EvalReport
) -> None:
    predicted = [(PREDICTED_CLASS.get(s.type, s.type), s.start, s.end) for s in spans]
    for token in _TOKEN.finditer(text):
        start, end = token.span()
        gold_class = next((c for c, s, e in gold if s < end and start < e), None)
        classes = {c for c, s, e in predicted if s < end and start < e}
        accepted = {gold_class} | ALSO_ACCEPTED.get(gold_class or "", set()) if gold_class else set()
        if gold_class is not None:
            score = report.scores.setdefault(gold_class, ClassScore())
            if classes & accepted:
                score.tp += 1
            else:
                score.fn += 1
        for wrong in classes - accepted:
            report.scores.setdefault(wrong, ClassScore()).fp += 1


def masked_ranges(text: str, spans: Sequence[PiiSpan]) -> list[tuple[int, int]]:
    """What pseudonymization replaces: the spans, and every other mention of a masked value
    (`routing.pseudonymize` replaces a value the vault knows wherever it appears, case-insensitive,
    whole words, any run of whitespace between its words), so "Hakuba ... Hakuba" with only the
    first found leaks nothing on the wire and counts as masked here too."""
    kept = resolve_overlaps(list(spans))
    ranges = [(s.start, s.end) for s in kept]
    values = {text[s.start : s.end] for s in kept if text[s.start : s.end].strip()}
    if values:
        alternatives = "|".join(r"\s+".join(map(re.escape, v.split())) for v in sorted(values))
        pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        ranges += [match.span() for match in pattern.finditer(text)]
    return ranges


def evaluate(gate: SensitivityGate, records: list[dict[str, object]]) -> EvalReport:
    report = EvalReport()
    pseudonymized = gate.policy.pseudonymized_types()
    for record in records:
        text = str(record["full_text"])
        gold = [
            (GOLD_CLASS[s["entity_type"]], s["start_position"], s["end_position"])
            for s in record["spans"]  # type: ignore[attr-defined]
            if s["entity_type"] in GOLD_CLASS
        ]
        detection = gate.detect(text)
        decision = detection.decision
        report.sentences += 1
        report.tiers[decision.tier.value] += 1
        report.failed_closed += decision.failed_closed
        report.gold_spans.update(c for c, _, _ in gold)
        report.sentences_with_values += bool(gold)
        _score_tokens(text, gold, detection.spans, report)
        if decision.tier is Tier.REGULATED:
            continue  # answered locally: nothing leaves the machine
        masked: list[tuple[int, int]] = []
        if decision.route is Route.HOSTED_PSEUDONYMIZED:
            masked = masked_ranges(text, [s for s in detection.spans if s.type in pseudonymized])
        leaked = [(c, s, e) for c, s, e in gold if not _covered(s, e, text, masked)]
        regulated = [c for c, _, _ in leaked if c in REGULATED_CLASSES]
        report.regulated_leaked_values.update(regulated)
        report.regulated_leaked_sentences += bool(regulated)
        report.personal_leaked_sentences += any(c != "LOCATION" for c, _, _ in leaked)
        report.any_leaked_sentences += bool(leaked)
    return report


def gold_person_words(records: Iterable[dict[str, object]]) -> set[str]:
    """Every word (case-folded) of every gold PERSON span: the names the evaluation asks about."""
    return {
        word.casefold()
        for record in records
        for span in record["spans"]  # type: ignore[attr-defined]
        if GOLD_CLASS.get(span["entity_type"]) == "PERSON"
        for word in _TOKEN.findall(str(span["entity_value"]))
    }


def evaluate_unknown_names(gate: SensitivityGate, records: list[dict[str, object]]) -> EvalReport:
    """`evaluate` with every word of every gold name removed from the name lists for the run
    (leave-list-out): the figure for names the gazetteers have never seen, which is what a real
    user's colleagues mostly are. The models (spaCy, the token classifier) are unchanged; a gold
    word that is also an ordinary word loses only its name-list entry."""
    with gazetteer_in_use(default_gazetteer().without(gold_person_words(records))):
        return evaluate(gate, records)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def format_report(report: EvalReport) -> str:
    lines = [f"{'entity':<16}{'precision':>10}{'recall':>8}{'F2':>8}{'gold spans':>12}"]
    for name, score in sorted(report.scores.items()):
        if not report.gold_spans[name] and not score.fp:
            continue
        lines.append(
            f"{name:<16}{score.precision:>10.3f}{score.recall:>8.3f}{score.f2:>8.3f}{report.gold_spans[name]:>12}"
        )
    lines += [
        f"sentences: {report.sentences}  tiers: {dict(report.tiers)}  failed closed: {report.failed_closed}",
        "sentences with regulated values reaching a hosted model unmasked: "
        f"{report.regulated_leaked_sentences}"
        + (f" {dict(report.regulated_leaked_values)}" if report.regulated_leaked_values else ""),
        "sentences with any personal value (not a bare place name) unmasked: "
        f"{report.personal_leaked_sentences} of {report.sentences_with_values} with values"
        f" ({_share(report.personal_leaked_sentences, report.sentences_with_values)})",
        "sentences with any value unmasked, place names included: "
        f"{report.any_leaked_sentences}"
        f" ({_share(report.any_leaked_sentences, report.sentences_with_values)})",
        "token-level scores; ADDRESS accepts tokens masked as LOCATION (a masked token is masked).",
    ]
    return "\n".join(lines)


def format_known_and_unknown(known: EvalReport, unknown: EvalReport) -> str:
    """The names figures side by side: with the name lists as shipped, and with every gold name
    left out of them (`evaluate_unknown_names`)."""
    lines = [f"{'names':<22}{'PERSON precision':>17}{'recall':>8}{'personal leaks':>16}{'any leaks':>11}"]
    for label, report in (("in the lists", known), ("unknown to the lists", unknown)):
        person = report.scores.get("PERSON", ClassScore())
        lines.append(
            f"{label:<22}{person.precision:>17.3f}{person.recall:>8.3f}"
            f"{_share(report.personal_leaked_sentences, report.sentences_with_values):>16}"
            f"{_share(report.any_leaked_sentences, report.sentences_with_values):>11}"
        )
    lines.append(
        f"sentences with values: {known.sentences_with_values}; leaks are sentences with a value "
        "unmasked (personal: not a bare place name)."
    )
    return "\n".join(lines)
