"""Tool calls in the chat: each finished call as a collapsed Chainlit step, and the confirmation a
side-effecting tool needs, as action buttons showing the exact arguments. The wording is
`assistant.tools.display`'s, shared with the terminal (`confidante chat`).

Only display: the loop has already decided, run and recorded the call. A confirmation that is not
answered, times out or fails is a "no" (the runner then does nothing).
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from assistant.tools.base import ToolSpec
from assistant.tools.display import (
    confirmation_arguments,
    confirmation_prompt,
    pretty_arguments,
    step_name,
    step_status,
)
from assistant.tools.records import ToolCallRecord

log = logging.getLogger(__name__)

CONFIRM = "tool_confirm"
CANCEL = "tool_cancel"
CONFIRM_TIMEOUT_S = 120


def _code(text: str) -> str:
    """A fenced block the text cannot break out of."""
    return "```json\n" + text.replace("```", "`\u200b``") + "\n```"


def step_output(record: ToolCallRecord) -> str:
    """The result summary, then what happened and how long it took."""
    status = f"_{step_status(record)}_"
    return f"{record.summary}\n\n{status}" if record.summary else status


def confirmation_text(spec: ToolSpec, arguments: BaseModel) -> str:
    return f"{confirmation_prompt(f'**{spec.name}**')}\n\n{_code(confirmation_arguments(arguments))}"


class ChainlitToolSteps:
    """The `StepSink` of the chat UI."""

    async def tool_finished(self, record: ToolCallRecord) -> None:
        # Imported when a step is shown, not when tools are built: `confidante chat` builds the
        # same tools and never shows a Chainlit step (chainlit's import: ~1.8 s CPU, issue 17).
        import chainlit as cl

        async with cl.Step(name=step_name(record), type="tool", show_input="json") as step:
            step.input = pretty_arguments(record.arguments_shown)
            step.output = step_output(record)


async def confirm_in_chat(spec: ToolSpec, arguments: BaseModel) -> bool:
    """Asks the user with two buttons; True only for an explicit "Run it"."""
    import chainlit as cl

    actions = [
        cl.Action(name=CONFIRM, payload={"answer": "yes"}, label="Run it"),
        cl.Action(name=CANCEL, payload={"answer": "no"}, label="Cancel"),
    ]
    ask = cl.AskActionMessage(
        content=confirmation_text(spec, arguments), actions=actions, timeout=CONFIRM_TIMEOUT_S
    )
    try:
        response = await ask.send()
    except Exception:  # no UI to ask (a closed tab, no Chainlit context): nothing runs
        log.exception("could not ask for a tool confirmation")
        return False
    payload = response.get("payload") if isinstance(response, dict) else None
    return isinstance(payload, dict) and payload.get("answer") == "yes"
