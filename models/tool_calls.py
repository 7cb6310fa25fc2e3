"""Tool calls out of a model's stream, in the two shapes backends send them.

`ToolCallAssembler` joins OpenAI-style streamed deltas (`delta.tool_calls[i]`: an id and a name
once, the arguments JSON in pieces) into complete `ToolCall`s; the hosted adapter and llama.cpp's
forced-tool grammar path both stream this shape. `ToolCallText` reads calls that a chat template
makes the model *write* (Qwen 2.5: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`),
holding back from the visible text everything from the opening tag on.

Neither validates arguments against a schema or decides anything: the tool loop does that.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from models.base import ToolCall

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


@dataclass
class _Partial:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Collects streamed tool-call deltas by index; `calls()` returns them complete, in order."""

    def __init__(self) -> None:
        self._parts: dict[int, _Partial] = {}

    def feed(self, deltas: list[dict[str, Any]] | None) -> None:
        for position, delta in enumerate(deltas or ()):
            index = delta.get("index")
            part = self._parts.setdefault(index if isinstance(index, int) else position, _Partial())
            part.id = part.id or str(delta.get("id") or "")
            function = delta.get("function") or {}
            part.name = part.name or str(function.get("name") or "")
            if function.get("arguments"):
                part.arguments.append(str(function["arguments"]))

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(id=part.id or new_call_id(), name=part.name, arguments="".join(part.arguments) or "{}")
            for _index, part in sorted(self._parts.items())
        )


class ToolCallText:
    """Splits a streamed answer into visible text and the `<tool_call>` blocks the model wrote."""

    def __init__(self) -> None:
        self._pending = ""
        self._captured: list[str] = []
        self._capturing = False

    def feed(self, text: str) -> str:
        """The part of `text` that is safe to show now (a possible tag start is held back)."""
        if self._capturing:
            self._captured.append(text)
            return ""
        buffer = self._pending + text
        at = buffer.find(OPEN_TAG)
        if at >= 0:
            self._capturing = True
            self._captured.append(buffer[at:])
            self._pending = ""
            return buffer[:at]
        keep = _tag_prefix_length(buffer)
        self._pending = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """Text held back at the end of the stream that turned out not to be a tag."""
        tail, self._pending = self._pending, ""
        return tail

    def calls(self) -> tuple[ToolCall, ...]:
        """Every block written; a block that is not valid JSON becomes a call with no name, so
        the loop can tell the model what was wrong instead of showing raw markup."""
        text = "".join(self._captured)
        blocks = [block.split(CLOSE_TAG)[0].strip() for block in text.split(OPEN_TAG)[1:]]
        return tuple(_parse_block(block) for block in blocks if block)


def _tag_prefix_length(text: str) -> int:
    """How many trailing characters of `text` could begin the opening tag."""
    for length in range(min(len(OPEN_TAG) - 1, len(text)), 0, -1):
        if OPEN_TAG.startswith(text[-length:]):
            return length
    return 0


def _parse_block(block: str) -> ToolCall:
    try:
        data = json.loads(block)
    except ValueError:
        return ToolCall(id=new_call_id(), name="", arguments=block)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return ToolCall(id=new_call_id(), name="", arguments=block)
    arguments = data.get("arguments", data.get("parameters", {}))
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return ToolCall(id=new_call_id(), name=data["name"], arguments=text)
