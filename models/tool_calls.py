"""Tool calls out of a model's stream, in the two shapes backends send them.

`ToolCallAssembler` joins OpenAI-style streamed deltas (`delta.tool_calls[i]`: an id and a name
once, the arguments JSON in pieces) into complete `ToolCall`s; the hosted adapter and llama.cpp's
forced-tool grammar path both stream this shape. `ToolCallText` reads calls that a chat template
makes the model *write* (Qwen 2.5: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`),
holding back from the visible text everything from the opening tag on. Qwen2.5-Coder-1.5B was
seen answering with the call as the whole answer instead, in a ```json fence: an answer that
*starts* like JSON or a fence is held back to the end, and is a call only if it is exactly one
`{"name": <an offered tool>, "arguments": {...}}` object; otherwise it is shown as written.

Neither validates arguments against a schema or decides anything: the tool loop does that.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
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

    def __init__(self, names: Collection[str] = ()) -> None:
        self._names = frozenset(names)
        self._pending = ""
        self._captured: list[str] = []
        self._capturing = False
        # None: not decided yet whether the answer starts like a bare JSON call.
        self._holding: bool | None = None if self._names else False
        self._held: list[str] = []
        self._whole: ToolCall | None = None

    def feed(self, text: str) -> str:
        """The part of `text` that is safe to show now (a possible tag start is held back)."""
        if self._capturing:
            self._captured.append(text)
            return ""
        if self._holding is not False:
            return self._hold(text)
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

    def _hold(self, text: str) -> str:
        self._held.append(text)
        start = "".join(self._held).lstrip()
        if self._holding is None:
            if not start or (len(start) < 3 and "```".startswith(start)):
                return ""  # only blanks or the start of a fence so far: not decided yet
            self._holding = start.startswith(("{", "```"))
        if self._holding:
            return ""
        held, self._held = "".join(self._held), []
        return self.feed(held)

    def flush(self) -> str:
        """Text held back at the end of the stream that turned out not to be a call."""
        if self._held:
            held, self._held, self._holding = "".join(self._held), [], False
            whole = None if OPEN_TAG in held else _whole_call(held)
            if whole is not None and whole.name in self._names:
                self._whole = whole
                return ""
            return self.feed(held) + self.flush()
        tail, self._pending = self._pending, ""
        return tail

    def calls(self) -> tuple[ToolCall, ...]:
        """Every block written; a block that is not valid JSON becomes a call with no name, so
        the loop can tell the model what was wrong instead of showing raw markup."""
        text = "".join(self._captured)
        blocks = [block.split(CLOSE_TAG)[0].strip() for block in text.split(OPEN_TAG)[1:]]
        written = tuple(_parse_block(block) for block in blocks if block)
        return (self._whole, *written) if self._whole is not None else written


def _whole_call(text: str) -> ToolCall | None:
    """The answer as one bare call object (optionally in a ```json fence), or None."""
    body = text.strip()
    if body.startswith("```"):
        body = body.removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    # Qwen 2.5's template shows the format as `{{"name": ..., "arguments": ...}}` (a literal string
    # inside a Jinja expression); Qwen-Coder-1.5B was seen copying the opening braces.
    candidates = [body, body[1:], body[1:-1]] if body.startswith("{{") else [body]
    for candidate in candidates:
        call = _parse_block(candidate)
        if call.name:
            return call
    return None


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
