"""Tool calls at the terminal (`confidante chat`): each finished call as a few lines on stderr, and
a side-effecting tool's confirmation asked at the terminal with the exact arguments.

The same facts as the UI's Chainlit steps, in the same words (`assistant.tools.display`); stderr,
so `--json` keeps stdout to one JSON object. Like the UI, it only shows: the loop has decided, run
and recorded the call. A confirmation is a "yes" only when a person types one: no terminal to
ask (stdin is not a TTY), end of input, or anything but y/yes is a "no", and nothing runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from pydantic import BaseModel

from assistant.executors import run_background
from assistant.tools.base import ToolSpec
from assistant.tools.display import (
    confirmation_arguments,
    confirmation_prompt,
    pretty_arguments,
    step_name,
    step_status,
)
from assistant.tools.records import ToolCallRecord

INDENT = "    "
NO_TERMINAL = "No terminal to ask, so it was not run."


def _indented(text: str) -> str:
    return "\n".join(INDENT + line for line in text.splitlines() or [""])


def step_lines(record: ToolCallRecord) -> str:
    """A finished call: name, the arguments as the model wrote them, the result summary, status."""
    lines = [f"[{step_name(record)}]", _indented(pretty_arguments(record.arguments_shown))]
    if record.summary:
        lines.append(f"{INDENT}→ {record.summary}")
    lines.append(f"{INDENT}({step_status(record)})")
    return "\n".join(lines)


def confirmation_lines(spec: ToolSpec, arguments: BaseModel) -> str:
    return f"{confirmation_prompt(spec.name)}\n{_indented(confirmation_arguments(arguments))}"


class TerminalToolSteps:
    """The `StepSink` of the command line."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out

    async def tool_finished(self, record: ToolCallRecord) -> None:
        out = self._out or sys.stderr
        print(step_lines(record), file=out, flush=True)


class TerminalConfirm:
    """Asks "Run it? [y/N]" on the terminal; True only for a typed y/yes."""

    def __init__(
        self,
        out: TextIO | None = None,
        read_line: Callable[[], str] | None = None,
        interactive: Callable[[], bool] | None = None,
    ) -> None:
        self._out = out
        self._read_line = read_line or sys.stdin.readline
        self._interactive = interactive or sys.stdin.isatty

    async def __call__(self, spec: ToolSpec, arguments: BaseModel) -> bool:
        out = self._out or sys.stderr
        print(confirmation_lines(spec, arguments), file=out, flush=True)
        if not self._interactive():
            print(NO_TERMINAL, file=out, flush=True)
            return False
        print("Run it? [y/N] ", end="", file=out, flush=True)
        # Reading a line blocks: off the event loop, so the turn's own tasks keep running.
        answer = await run_background(self._read_line)
        return answer.strip().lower() in ("y", "yes")
