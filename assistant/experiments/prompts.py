"""Versioned prompt templates a variant can name: each turns the configured system prompt into
the one a turn uses. Adding a template is adding an entry; a template must never weaken the
system prompt's safety instructions (each one only appends to it).

`MAP_PROMPTS` are the summaries' map-step instructions (`assistant.uploads.summarize`): only the
request under the document, never the summarizer's system prompt (which says the document is data).
"""

from __future__ import annotations

from collections.abc import Callable

PromptTemplate = Callable[[str], str]

CONCISE = "Answer in at most three short sentences unless the user asks for more detail."
STEPS = "When the answer is a procedure, give it as a short numbered list of steps."

PROMPT_TEMPLATES: dict[str, PromptTemplate] = {
    "chat-v1": lambda base: base,
    "chat-v2-concise": lambda base: f"{base}\n{CONCISE}",
    "chat-v2-steps": lambda base: f"{base}\n{STEPS}",
}
DEFAULT_TEMPLATE = "chat-v1"


def system_prompt(template: str, base: str) -> str:
    """The system prompt for `template`; an unknown name falls back to the base prompt."""
    return PROMPT_TEMPLATES.get(template, PROMPT_TEMPLATES[DEFAULT_TEMPLATE])(base)


MAP_PROMPTS: dict[str, str] = {
    "map-v1": (
        "List up to {wanted} key points of this text. Each point is one sentence from the text; set ref "
        "to the reference shown in brackets above the passage it comes from (one of: {refs})."
    ),
    "map-v2-facts": (
        "List up to {wanted} facts a reader must not miss in this text: rules, numbers, dates, deadlines "
        "and who must do what. Each fact is one sentence from the text; set ref to the reference shown "
        "in brackets above the passage it comes from (one of: {refs})."
    ),
}
DEFAULT_MAP_PROMPT = "map-v1"


def map_prompt(version: str, *, wanted: int, refs: str) -> str:
    """The map step's request for `version`; an unknown name falls back to the default one."""
    return MAP_PROMPTS.get(version, MAP_PROMPTS[DEFAULT_MAP_PROMPT]).format(wanted=wanted, refs=refs)
