"""Does a follow-up correct or rephrase the previous question? A typed, explainable heuristic.

Two signals, either enough: a correction cue ("no, I meant…", "that's wrong", "let me rephrase")
or a follow-up that re-asks most of the previous question's content words (a rephrase). A new
question that shares a word or two ("what about sick days?") is moving on, not a correction.
It reads two messages and returns a verdict; it stores nothing and never sees an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Containment of the previous question's content words in the follow-up; at or above it, a
# follow-up that is itself a question or request counts as a rephrase.
REPHRASE_OVERLAP = 0.6
MIN_CONTENT_WORDS = 2

CUES = (
    r"^(no|nope|wrong|incorrect)\b",
    r"\bthat'?s (not|wrong|incorrect)\b",
    r"\bthat is (not|wrong|incorrect)\b",
    r"\bnot what i (meant|asked|wanted)\b",
    r"\bi (meant|mean|asked|was asking)\b",
    r"\bwhat i (meant|asked|want)\b",
    r"\byou misunderstood\b",
    r"\b(let me|i'?ll) (rephrase|clarify|try again)\b",
    r"\bin other words\b",
    r"\bto be clear\b",
    r"^actually\b",
    r"^(i said|i asked)\b",
    r"\bdidn'?t (answer|ask)\b",
    r"\b(you'?re|you are) wrong\b",
    r"\bnot (quite|right|correct)\b",
)
_CUE_RES = tuple(re.compile(pattern) for pattern in CUES)
_STOPWORD_TEXT = """
    a an the and or but of to in on for with at by from about as is are was were be been do does
    did i me my we our you your it its this that these those what which who whom how when where why
    can could would should will shall may might must have has had there here please tell show give
    get any some much many more most just so if then than also too very know want need like ok okay
    thanks thank yes no not again"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

Reason = Literal["cue", "rephrase", "none"]


@dataclass(frozen=True, slots=True)
class CorrectionVerdict:
    corrects: bool
    reason: Reason
    overlap: float


def content_words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {_stem(w) for w in words if w not in STOPWORDS and len(w) > 1}


def _stem(word: str) -> str:
    """Plural and -ing/-ed endings only: enough for "days"/"day", "booking"/"book"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def judge_follow_up(previous: str, follow_up: str) -> CorrectionVerdict:
    """Whether `follow_up` corrects or rephrases `previous` (both are the user's messages)."""
    text = " ".join(follow_up.lower().replace("’", "'").split())
    before = content_words(previous)
    after = content_words(follow_up)
    overlap = len(before & after) / len(before) if before else 0.0
    if any(cue.search(text) for cue in _CUE_RES):
        return CorrectionVerdict(True, "cue", overlap)
    if len(before) >= MIN_CONTENT_WORDS and overlap >= REPHRASE_OVERLAP:
        return CorrectionVerdict(True, "rephrase", overlap)
    return CorrectionVerdict(False, "none", overlap)


EXAMPLES = "correction_examples.jsonl"


@dataclass(frozen=True, slots=True)
class CorrectionScore:
    split: str
    n: int
    correct: int
    false_positives: int
    false_negatives: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


def score_examples(split: str) -> CorrectionScore:
    """Accuracy on the authored examples of one split ("dev" or "heldback")."""
    import json
    from importlib.resources import files

    lines = (files("assistant.experiments") / "data" / EXAMPLES).read_text(encoding="utf-8").splitlines()
    rows = [row for row in map(json.loads, filter(None, lines)) if row.get("split") == split]
    verdicts = [(judge_follow_up(r["previous"], r["follow_up"]).corrects, bool(r["corrects"])) for r in rows]
    return CorrectionScore(
        split=split,
        n=len(rows),
        correct=sum(got == want for got, want in verdicts),
        false_positives=sum(got and not want for got, want in verdicts),
        false_negatives=sum(want and not got for got, want in verdicts),
    )
