"""Tool calls out of a model's stream, in the two shapes backends send them.

`ToolCallAssembler` joins OpenAI-style streamed deltas (`delta.tool_calls[i]`: an id and a name
once, the arguments JSON in pieces) into complete `ToolCall`s; the hosted adapter and llama.cpp's
forced-tool grammar path both stream this shape. `ToolCallText` reads calls that a chat template
makes the model *write* (Qwen 2.5: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`),
holding back from the visible text everything from the opening tag on. Qwen2.5-Coder-1.5B was
also seen writing the call as bare JSON or in a ```json fence, as the whole answer or after a
sentence ("Sure, here is...: ```json {...}```"), and naming tools that do not exist: with tools on
offer, such markup is held back wherever it starts and becomes a call, whatever the name, so the
loop can tell the model the tool does not exist. Only what is not call-shaped is shown: an object
is a call when its keys are a call's (name, arguments or parameters, id, type, or OpenAI's
function), so `{"name": "Ada", "email": ...}` is an answer. The price: a code block whose body
starts with `{` or `[`, or an object starting with such a key, is shown whole once it closes.

Call markup must never reach the user as text. Neither class validates arguments against a
schema or decides anything: the tool loop does that.
"""

from __future__ import annotations

import json
import re
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
    """Splits a streamed answer into visible text and the tool calls the model wrote.

    `<tool_call>` blocks are always read. With tool names given (tools are on offer), JSON call
    markup is read too, wherever it starts: a `{"name": ...}` object, or a ``` fence (with or
    without a language tag) whose body is call objects or `<tool_call>` blocks."""

    def __init__(self, names: Collection[str] = (), *, reads_json: bool | None = None) -> None:
        # Any name becomes a call (the loop answers "no such tool"): names only switch JSON on, as
        # `reads_json` does for a round without tools that follows tool results.
        self._reads_json = bool(names) if reads_json is None else reads_json
        self._pending = ""
        self._captured: list[str] = []
        self._capturing = False
        self._found: list[ToolCall] = []

    def feed(self, text: str) -> str:
        """The part of `text` that is safe to show now (a possible start of markup is held back)."""
        if self._capturing:
            self._captured.append(text)
            return ""
        self._pending += text
        return self._scan(final=False)

    def flush(self) -> str:
        """Text held back at the end of the stream that turned out not to be a call."""
        return "" if self._capturing else self._scan(final=True)

    def calls(self) -> tuple[ToolCall, ...]:
        """Every call written, in order; a `<tool_call>` block that is not valid JSON becomes a call
        with no name, so the loop can tell the model what was wrong instead of showing raw markup."""
        return (*self._found, *_tag_blocks("".join(self._captured)))

    def _scan(self, *, final: bool) -> str:
        shown: list[str] = []
        while True:
            at, marker = _next_marker(self._pending, self._reads_json)
            if at < 0:
                cut = len(self._pending) - (0 if final else _marker_prefix(self._pending, self._reads_json))
                shown.append(self._pending[:cut])
                self._pending = self._pending[cut:]
                return "".join(shown)
            shown.append(self._pending[:at])
            rest = self._pending[at:]
            if marker == OPEN_TAG:  # everything from the tag on is calls
                self._capturing, self._pending = True, ""
                self._captured.append(rest)
                return "".join(shown)
            decided = _read_fence(rest, final) if marker == _FENCE else _read_object(rest, final)
            if decided is None:  # not decided yet: wait for more of the stream
                self._pending = rest
                return "".join(shown)
            calls, length = decided
            self._found.extend(calls)
            shown.append("" if calls else rest[:length])
            self._pending = rest[length:]


# A decided piece of held text: the calls it is (none: it is text to show), and its length.
_Decided = tuple[tuple[ToolCall, ...], int]

_FENCE = "```"
_FENCE_HEAD = re.compile(r"```[\w+.-]*[ \t]*")
_OBJECT_HEAD = re.compile(r"\{\{?\s*")
# An object is call markup only with these keys: `{"name": "Ada", "email": ...}` is an answer.
_CALL_KEYS = frozenset({"name", "arguments", "parameters", "id", "type", "function"})
_FIRST_KEYS = tuple(f'"{key}"' for key in sorted(_CALL_KEYS))


def _next_marker(text: str, reads_json: bool) -> tuple[int, str]:
    """Where the first possible markup starts in `text`, and which marker starts it."""
    markers = (OPEN_TAG, _FENCE, "{") if reads_json else (OPEN_TAG,)
    found = [(at, marker) for marker in markers if (at := text.find(marker)) >= 0]
    return min(found) if found else (-1, "")


def _marker_prefix(text: str, reads_json: bool) -> int:
    """How many trailing characters of `text` could begin a marker."""
    markers = (OPEN_TAG, _FENCE) if reads_json else (OPEN_TAG,)
    return max(_prefix_length(text, marker) for marker in markers)


def _prefix_length(text: str, marker: str) -> int:
    for length in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-length:]):
            return length
    return 0


def _read_fence(text: str, final: bool) -> _Decided | None:
    """`text` starts with a fence: calls if its body is call markup, else the fence is text."""
    head = _FENCE_HEAD.match(text)
    body_at = head.end() if head else len(_FENCE)
    body = text[body_at:].lstrip()
    if not final and (body_at == len(text) or OPEN_TAG.startswith(body)):
        return None  # the language tag or the body's first character has not arrived
    if not body.startswith(("{", "[", OPEN_TAG)):
        return (), len(_FENCE)  # a code block (or a lone fence): its body is read as text
    close = text.find(_FENCE, body_at)
    if close < 0 and not final:
        return None
    inside = text[body_at:] if close < 0 else text[body_at:close]
    return _fenced_calls(inside), len(text) if close < 0 else close + len(_FENCE)


def _read_object(text: str, final: bool) -> _Decided | None:
    """`text` starts with a brace: a call if it is one call object, else text."""
    head = _OBJECT_HEAD.match(text)
    after = text[head.end() if head else 1 :]
    if not after.startswith(_FIRST_KEYS):
        if not final and any(key.startswith(after) for key in _FIRST_KEYS):
            return None
        return (), head.end() if head else 1  # prose with a brace: read on after it
    decoded = _decode(text)
    if decoded is not None:
        call = _call_from(decoded[0])
        return ((call,) if call else ()), decoded[1]
    end = _balanced_end(text)
    if end is None and not final:
        return None  # still being written
    return (), len(text) if end is None else end


def _decode(text: str) -> tuple[object, int] | None:
    """The JSON value `text` starts with and where it ends. Qwen 2.5's template shows the format as
    `{{"name": ..., "arguments": ...}}` (a literal inside a Jinja expression); Qwen-Coder-1.5B was
    seen copying the doubled opening brace, with or without a doubled closing one."""
    decoder = json.JSONDecoder()
    for offset in (1, 0) if text.startswith("{{") else (0,):
        try:
            value, end = decoder.raw_decode(text, offset)
        except ValueError:
            continue
        return value, end + 1 if offset and text[end : end + 1] == "}" else end
    return None


def _balanced_end(text: str) -> int | None:
    """Where the braces opened at the start of `text` close (strings skipped), or None."""
    depth, quoted, escaped = 0, False, False
    for at, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted:
            escaped, quoted = char == "\\", char != '"'
        elif char == '"':
            quoted = True
        elif char in "{}":
            depth += 1 if char == "{" else -1
            if depth == 0:
                return at + 1
    return None


def _fenced_calls(body: str) -> tuple[ToolCall, ...]:
    """The calls a fence holds: `<tool_call>` blocks, a list of call objects, or call objects one
    after another; () if anything in it is not a call (then it is a code block to show)."""
    body = body.strip()
    if body.startswith(OPEN_TAG):
        return _tag_blocks(body)
    values: list[object] = []
    while body:
        decoded = _decode(body)
        if decoded is None:
            return ()
        value, end = decoded
        values.extend(value if isinstance(value, list) else [value])
        body = body[end:].lstrip().removeprefix(",").lstrip()
    calls = [_call_from(value) for value in values]
    return tuple(c for c in calls if c is not None) if calls and all(calls) else ()


def _call_from(value: object) -> ToolCall | None:
    """A call object (Qwen's `{"name", "arguments"}`, or OpenAI's `{"function": {...}}`), or None."""
    if isinstance(value, dict) and isinstance(value.get("function"), dict) and "name" not in value:
        value = value["function"]
    if not isinstance(value, dict) or not set(value) <= _CALL_KEYS - {"function"}:
        return None
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return ToolCall(id=new_call_id(), name=name, arguments=text)


def _tag_blocks(text: str) -> tuple[ToolCall, ...]:
    blocks = [block.split(CLOSE_TAG)[0].strip() for block in text.split(OPEN_TAG)[1:]]
    return tuple(_parse_block(block) for block in blocks if block)


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
