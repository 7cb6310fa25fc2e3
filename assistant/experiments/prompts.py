"""Versioned prompt templates a variant can name: each turns the configured system prompt into
the one a turn uses. Adding a template is adding an entry; a template must never weaken the
system prompt's safety instructions (each one only appends to it)."""

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
