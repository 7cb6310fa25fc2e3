"""Deterministic readings of what a message asks for, before and after retrieval (no model involved).

`classify_intent` sorts a message into three kinds from surface features (no per-example rules):
- "chat": greetings, thanks, questions about the assistant itself; no document retrieval;
- "general": a task the model does on its own (write, draft, rewrite, brainstorm, translate,
  explain a concept, code, maths, general knowledge);
- "company": a question about the workplace (policies, forms, benefits, "our", "at work").

`decide_grounding` then combines the kind with what retrieval found: a company question is grounded,
or answered "not found" when nothing relevant exists; a general task is grounded only when a passage
is clearly relevant and is otherwise answered by the model, never with "not found". A general
question that names terms found verbatim in the documents counts as a company question.
`wants_a_person` spots a request for a human. Everything here errs towards answering: it must never
turn an ordinary request into a refusal or a ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

IntentKind = Literal["chat", "general", "company"]
Grounding = Literal["none", "grounded", "not_found"]

_SMALL_TALK = re.compile(
    r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|thanks?( you)?|thank you( very much)?|cheers|"
    r"bye|goodbye|see you|ok(ay)?|great|cool|who are you|what can you do|how are you|"
    r"what (can|do) you (help( me)? with|do))\b[\s\w,!?.']{0,60}$",
    re.IGNORECASE,
)
_SAY = re.compile(r"^\s*(please\s+)?(say|repeat|write|draft|translate|summari[sz]e this)\b", re.IGNORECASE)
_PERSON = re.compile(
    r"\b(talk|speak|chat)\s+(to|with)\s+(a|an|some)?\s*(real\s+)?(person|human|agent|someone|somebody|"
    r"representative|colleague)\b|\b(human|live)\s+(agent|support)\b|\bescalate\b",
    re.IGNORECASE,
)
# The assistant itself: "you", "this app", what happens to the user's data or chats.
_ABOUT_ASSISTANT = re.compile(
    r"\b(you|your|yourself|this (app|assistant|chat|tool)|confidante|(local|cloud|hosted) model|bot)\b.*"
    r"|\b(my (data|files|questions|chat history|messages)|upload (a|my) (document|file|pdf))\b",
    re.IGNORECASE,
)
# An imperative task verb opening the message (after an optional "please"/"can you").
_TASK_VERB = re.compile(
    r"^\s*(please\s+|can you\s+|could you\s+|help me\s+)?(write|draft|compose|rewrite|rephrase|reword|"
    r"brainstorm|translate|explain|define|summari[sz]e|outline|proofread|correct|edit|improve|shorten|"
    r"make|turn|convert|calculate|compute|solve|suggest|give me|create|generate|list|describe|tell me)\b",
    re.IGNORECASE,
)
# Workplace vocabulary: a question that uses it is about the company's own rules and documents.
_WORKPLACE = re.compile(
    r"\b(our|we|us|here|company|company's|employer|employees?|staff|colleagues?|team|office|at work|"
    r"work (laptop|phone|computer|e-?mail)|handbook|polic(y|ies)|procedure|process for|form|payroll|"
    r"pay ?slip|payday|salary|bonus(es)?|pension|benefits?|allowance|leave|holiday|vacation|pto|sick|"
    r"expenses?|expensing|reimburse\w*|per diem|travel|timesheet|overtime|badge|vpn|onboarding|contractor|"
    r"contract|notice period|insurance|health plan|dental|subsidy|scheme|programme|dress code|meeting room|"
    r"parking|code of conduct|approv\w+|sign(s)? off|entitled|enrol\w*|internal transfer|referral|"
    r"performance reviews?|core working hours|emergency contact|harassment|security incident|"
    r"company (car|computers?|events?)|business cards|shared \w+ drive|employee id|tax withholding)\b",
    re.IGNORECASE,
)
# Department acronyms, case-sensitive so the pronoun "it" is not the IT department.
_DEPARTMENT = re.compile(r"\b(HR|IT|HR's|IT's)\b")
# A form or document code such as HR-12 or FIN-3: only the company's documents define these.
_DOC_CODE = re.compile(r"\b[A-Z]{2,5}-\d{1,4}\b")


@dataclass(frozen=True, slots=True)
class Intent:
    """What a message asks for, and the features that said so (shown in tests and logs)."""

    kind: IntentKind
    reason: str


def classify_intent(text: str) -> Intent:
    """The kind of request, from the message alone."""
    workplace = _WORKPLACE.findall(text) + _DEPARTMENT.findall(text)
    task = _TASK_VERB.match(text)
    if len(text.split()) <= 12 and _SMALL_TALK.match(text):
        return Intent("chat", "a greeting or small talk")
    if _DOC_CODE.search(text):
        return Intent("company", "names a form or document code")
    if task and _is_general_task(text, task.group(2).lower()):
        return Intent("general", f"a task for the model ({task.group(2).lower()})")
    if _ABOUT_ASSISTANT.search(text) and not workplace:
        return Intent("chat", "a question about the assistant")
    if workplace:
        words = ", ".join(dict.fromkeys(w if isinstance(w, str) else w[0] for w in workplace))
        return Intent("company", f"asks about the workplace ({words.lower()})")
    return Intent("general", "a general question")


def _is_general_task(text: str, verb: str) -> bool:
    """A task verb makes a general task unless the object is the company's own rules ("explain
    our leave policy", "tell me the per diem"): then it is a question in imperative form."""
    rules = re.search(
        r"\b(our|company'?s?|the (handbook|policy|form|allowance|per diem|procedure))\b", text, re.IGNORECASE
    )
    return not (rules and verb in ("explain", "describe", "tell me", "summarize", "summarise", "list"))


def decide_grounding(
    intent: Intent, *, answerable: bool, clearly_relevant: bool, names_document_terms: bool
) -> Grounding:
    """Ground, answer without documents, or say "not found"?

    `answerable`: retrieval's calibrated answerability passed its threshold. `clearly_relevant`: a
    stricter test (high retrieval confidence) that a general task must pass to be grounded.
    `names_document_terms`: the question contains rare terms found verbatim in a passage.
    """
    if intent.kind == "chat":
        return "none"
    about_documents = intent.kind == "company" or names_document_terms
    if about_documents:
        return "grounded" if answerable else "not_found"
    return "grounded" if clearly_relevant else "none"


def is_small_talk(text: str) -> bool:
    words = text.split()
    return len(words) <= 12 and bool(_SMALL_TALK.match(text) or (len(words) <= 8 and _SAY.match(text)))


def wants_a_person(text: str) -> bool:
    return bool(_PERSON.search(text))
