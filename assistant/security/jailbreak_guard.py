"""An input-side heuristic for the user's own message: does it try to override the assistant's
rules (persona jailbreaks such as "DAN", "ignore previous instructions", requests for the
system prompt)? And an output-side check: did the answer adopt a jailbreak persona?

The score is a sum of weighted, general phrasings (not a list of known prompts), so a message
must combine several signals to be flagged; a single word such as "pretend" or "ignore" never
is. False refusals matter as much as attacks: the threshold was set so that ordinary questions
(SQuAD questions, benign finance questions, Presidio's synthetic sentences) score below it.
Documents are not scored here: uploaded or retrieved text is spotlighted as data instead, so a
user can still ask for a summary of a suspicious e-mail. This module never calls a model.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

BLOCKED_MESSAGE = (
    "This message looks like an attempt to change how the assistant works (for example, to make it "
    "ignore its rules or reveal its configuration), so it was not sent to a model. "
    "Ask your question directly and I'll help."
)
_I = re.IGNORECASE
_SIGNALS: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    ("override", 3.0, re.compile(
        r"\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(previous|prior|above|earlier|preceding|"
        r"original|all|your|any)\b[^.\n]{0,20}\b(instructions?|rules|guidelines|prompts?|directives|programming"
        r"|restrictions)\b", _I)),
    ("persona", 2.0, re.compile(
        r"\b(DAN|STAN|DUDE|AIM|ANTI-DAN|BetterDAN|Developer Mode|Do Anything Now|jailbr(?:eak|oken))\b")),
    ("unrestricted", 2.0, re.compile(
        r"\b(no|without|free from|free of|not bound by|unbound by|beyond)\b[^.\n]{0,25}\b(ethical|moral|"
        r"content|safety|any)?\s*(restrictions|limitations|limits|filters?|guidelines|censorship|boundaries"
        r"|constraints)\b", _I)),
    ("policy", 1.0, re.compile(r"\b(OpenAI|content|usage) polic(y|ies)\b", _I)),
    ("roleplay", 1.5, re.compile(
        r"\b(from now on|you will now|you are going to|you are now|henceforth)\b[^.\n]{0,30}\b(act|pretend|"
        r"role-?play|behave|be|become|simulate)\b", _I)),
    ("in-character", 2.0, re.compile(r"\b(stay|remain|break(?:ing)?) (in|out of) character\b", _I)),
    ("dual-answer", 1.5, re.compile(
        r"\b(two|2) (different |separate )?(responses|answers|paragraphs|outputs)\b", _I)),
    ("never-refuse", 2.0, re.compile(
        r"\b(never|cannot|can't|must not|do not|don't|won't|will not) (refuse|decline|say no|reject)\b", _I)),
    ("extraction", 3.0, re.compile(
        r"\b(reveal|show|print|repeat|output|display|tell me|share|paste|give me|what (are|were|is))\b"
        r"[^.\n?]{0,30}\b(system prompt|system message|initial (instructions|prompt)|"
        r"hidden (instructions|prompt)|instructions you were given|pre-?prompt|"
        r"your (instructions|configuration|rules))", _I)),
    ("text-above", 2.0, re.compile(
        r"\b(repeat|output|print|summari[sz]e)\b[^.\n]{0,30}\b(text|words|everything) (above|before this)",
        _I)),
)  # fmt: skip
THRESHOLD = 3.0
# The answer announces a persona switch (what garak's DAN detectors look for).
_PERSONA_OUTPUT = re.compile(
    r"\[🔓JAILBREAK\]|🔓\s*Developer Mode|\bDAN Mode enabled\b|\bDeveloper Mode enabled\b|\[DAN\]|"
    r"^\s*(?:\*\*)?(DAN|STAN|DUDE|ANTI-DAN|AIM|BetterDAN)(?:\*\*)?\s*:",
    re.MULTILINE,
)


class JailbreakVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: float
    signals: tuple[str, ...]
    flagged: bool


def score_message(text: str, *, threshold: float = THRESHOLD) -> JailbreakVerdict:
    """Weighted signals in the user's own message; each signal counts once."""
    signals = tuple(name for name, _, pattern in _SIGNALS if pattern.search(text))
    score = sum(weight for name, weight, _ in _SIGNALS if name in signals)
    if len(text) > 1500 and signals:
        score += 1.0  # long role-play set-ups are the typical carrier
    return JailbreakVerdict(score=score, signals=signals, flagged=score >= threshold)


def persona_answer(answer: str) -> bool:
    """True when the answer speaks as a jailbreak persona; show `BLOCKED_MESSAGE` instead."""
    return _PERSONA_OUTPUT.search(answer) is not None
