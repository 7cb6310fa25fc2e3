"""How a tool call reads to a person: the one formatting of a step, shared by every front end.

The Chainlit UI (`assistant.ui.tool_steps`) and the terminal (`assistant.tools.terminal`) show the
same facts from the same typed records (`ToolCallRecord`, and a side-effecting tool's spec and
validated arguments before it runs): the tool's name, its arguments as the model wrote them, the
result summary, and what happened (done, refused, cancelled…) with the time it took. Only
presentation: nothing here decides, runs or records a call, and nothing adds text a tool or the
model did not produce.
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from assistant.tools.base import ToolOutcome
from assistant.tools.records import ToolCallRecord

OUTCOME_LABELS: dict[ToolOutcome, str] = {
    "ok": "done", "error": "failed", "timeout": "timed out", "invalid_arguments": "invalid arguments",
    "refused_permission": "not permitted", "refused_privacy": "refused: sensitive arguments",
    "declined_by_user": "cancelled by you", "not_found": "no such tool",
}  # fmt: skip


def pretty_arguments(arguments: str) -> str:
    """The arguments as indented JSON; text that is not JSON as it was written."""
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments


def step_name(record: ToolCallRecord) -> str:
    return f"Tool: {record.name or 'unreadable call'}"


def step_status(record: ToolCallRecord) -> str:
    """What happened and how long it took, e.g. "done · 7 ms"."""
    return f"{OUTCOME_LABELS.get(record.outcome, record.outcome)} · {record.latency_ms:.0f} ms"


def confirmation_arguments(arguments: BaseModel) -> str:
    """Exactly the arguments the tool will run with (validated, as JSON)."""
    return json.dumps(arguments.model_dump(mode="json"), indent=2, ensure_ascii=False)


def confirmation_prompt(name: str) -> str:
    """The question before a side-effecting tool runs; `name` as the front end styles it."""
    return f"{name} wants to run with these arguments. It can change things, so it runs only if you say so."
