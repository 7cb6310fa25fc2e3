"""Stopping a model that has started to repeat itself, while it streams.

`LoopDetector` watches the text as it grows and says when the output has become a loop: the same
sentence or line over and over ("I am writing to you because…" ×60), or the same run of words
repeated back to back without any sentence boundary, or one character run on and on.
`LoopGuard` wraps any `ChatModel` (composition, like the wrappers in `routing/`): it passes the
deltas through, and on a loop closes the inner stream (which stops local generation and frees
the worker) and ends with `finish_reason="repetition"`; `REPETITION_NOTICE` is the line to show.

It must never stop normal text: lists, tables and numbered steps repeat their *shape*, not their
words, and only completed sentences or exact word-for-word runs count. It never changes the
text it lets through, and it never judges the content (that is the answer checks' job).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from models.base import ChatModel, ChatRequest, ModelWrapper, StreamEnd, StreamEvent, TextDelta, Usage

REPETITION_NOTICE = "Answer cut: it started repeating."

_WORD = re.compile(r"\w+")
# A unit ends at a line break or after sentence punctuation followed by white space.
_BOUNDARY = re.compile(r"\n+|(?<=[.!?])\s+")
# List markers and enumerations: "1. ", "- ", "* ", "a) " do not make two sentences different.
_MARKER = re.compile(r"^\s*(?:[-*•>]+|\d+[.)]|[a-z][.)])\s+")


@dataclass(frozen=True)
class LoopPolicy:
    """When repetition counts as a loop. Defaults leave ordinary lists and tables alone."""

    # A completed sentence/line at least this long, with at least this many words, is tracked.
    min_unit_chars: int = 20
    min_unit_words: int = 4
    # ... and is a loop when it occurs this many times in a row, or this many times in all.
    max_consecutive: int = 4
    max_total: int = 5
    # Back-to-back identical word runs: a period of up to `max_period` words repeated
    # `min_repeats` times covering at least `min_run_words` words.
    max_period: int = 60
    min_repeats: int = 3
    min_run_words: int = 24
    # The same single word back to back (period 1) needs a longer run.
    min_single_word_run: int = 12
    # The same character (no spaces) this many times in a row.
    max_char_run: int = 120
    # Only the recent text is searched for word runs (keeps each check cheap).
    window_chars: int = 3000


@dataclass
class LoopDetector:
    """Fed the stream's text piece by piece; `feed` returns a reason once the text loops."""

    policy: LoopPolicy = field(default_factory=LoopPolicy)
    text: str = ""
    _done_upto: int = 0
    _counts: Counter[str] = field(default_factory=Counter)
    _last_unit: str = ""
    _run: int = 0

    def feed(self, delta: str) -> str | None:
        self.text += delta
        return self._units() or self._word_run() or self._char_run()

    def _units(self) -> str | None:
        """Count completed sentences/lines (normalised) as they complete."""
        pending = self.text[self._done_upto :]
        last_end = 0
        for match in _BOUNDARY.finditer(pending):
            reason = self._count(pending[last_end : match.start()])
            last_end = match.end()
            if reason:
                self._done_upto += last_end
                return reason
        self._done_upto += last_end
        return None

    def _count(self, unit: str) -> str | None:
        norm = " ".join(_MARKER.sub("", unit).lower().split())
        if len(norm) < self.policy.min_unit_chars or len(_WORD.findall(norm)) < self.policy.min_unit_words:
            return None
        self._run = self._run + 1 if norm == self._last_unit else 1
        self._last_unit = norm
        self._counts[norm] += 1
        if self._run >= self.policy.max_consecutive:
            return f"the same sentence {self._run} times in a row"
        if self._counts[norm] >= self.policy.max_total:
            return f"the same sentence {self._counts[norm]} times"
        return None

    def _word_run(self) -> str | None:
        words = _WORD.findall(self.text[-self.policy.window_chars :].lower())
        for period in range(1, min(self.policy.max_period, len(words) // 2) + 1):
            run = _matching_tail(words, period)
            covered = run + period
            needed = (
                self.policy.min_single_word_run
                if period == 1
                else max(self.policy.min_run_words, period * self.policy.min_repeats)
            )
            if covered >= needed:
                return f"a run of {period} word(s) repeated {covered // period} times"
        return None

    def _char_run(self) -> str | None:
        limit = self.policy.max_char_run
        tail = self.text[-(limit + 16) :].rstrip()[-limit:]
        if len(tail) == limit and tail == tail[-1] * limit:
            return f"one character repeated {limit} times"
        return None


def _matching_tail(words: list[str], period: int) -> int:
    """How many words at the end equal the word `period` places before them."""
    run = 0
    for i in range(len(words) - 1, period - 1, -1):
        if words[i] != words[i - period]:
            break
        run += 1
    return run


class LoopGuard(ModelWrapper):
    """Cuts a stream that loops; ends it with `finish_reason="repetition"` and the text so far.

    Anything else the wrapped model offers (`close`, `wait_ready`, …) is reached through it.
    """

    def __init__(self, inner: ChatModel, policy: LoopPolicy | None = None) -> None:
        super().__init__(inner)
        self.policy = policy or LoopPolicy()
        self.last_reason: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (copying, unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        started = time.monotonic()
        detector = LoopDetector(self.policy)
        first_token: float | None = None
        inner = self.inner.stream(request)
        try:
            async for event in inner:
                if isinstance(event, StreamEnd):
                    yield event
                    return
                first_token = first_token if first_token is not None else time.monotonic()
                yield event
                if not isinstance(event, TextDelta):
                    continue  # a tool call carries no prose to loop in
                reason = detector.feed(event.text)
                if reason is not None:
                    self.last_reason = reason
                    break
            else:
                return  # ended without a final record: the caller reports that, as unwrapped
        finally:
            closer = getattr(inner, "aclose", None)
            if closer is not None:
                await closer()  # stops generation upstream (frees the local worker)
        yield self._cut_end(request, detector.text, started, first_token)

    def _cut_end(self, request: ChatRequest, text: str, started: float, first: float | None) -> StreamEnd:
        prompt = sum(self.count_tokens(m.content) for m in request.messages)
        return StreamEnd(
            model=self.name,
            kind=self.kind,
            usage=Usage(prompt_tokens=prompt, completion_tokens=self.count_tokens(text), source="counted"),
            finish_reason="repetition",
            latency_ms=(time.monotonic() - started) * 1000,
            ttft_ms=None if first is None else (first - started) * 1000,
            text=text,
        )
