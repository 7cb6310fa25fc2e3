"""Saved llama.cpp states of long prompt prefixes, so a tool turn does not re-read its tools.

A regulated turn offered tools starts with the system prompt and the tool definitions (408 tokens
for Qwen 1.5B with the two tools every deployment has, 972 with all five; 47 without tools). The
one `Llama` context keeps only the last prompt it read, so after any other request (a tool-free
fallback, a summary, a title, a yes/no judgement) the next tool turn read that prefix again:
seconds to its first token on 2 cores (bench/bench_local_prefix.py). Here the prefix's key/value
cells are copied out once, when a tool turn has just read them, and copied back in when a later
tool turn needs them and the context holds something else: about 1 ms for 12 MB.

Why not llama-cpp-python's `Llama.set_cache(LlamaRAMCache(...))`: it saves the state after every
completion (prompt and answer), and its `save_state` also copies a logits row per prompt token up
to `n_batch` rows (408 x 151,936 floats: 248 MB, 0.9 s) that its capacity does not count, so its
bound is not a bound and every summary pushes the tool prefix out. Here only the prefix, the KV
cells of sequence 0 (`llama_state_seq_get_data`), is kept, counted in full, least recently used
first out of a bound in bytes (`models.local.prefix_cache_mb`).

A private llama.cpp server (`models.local.server_url`) needs nothing from here: the pinned
`llama-server` keeps each slot's last prompt (`--cache-prompt`, on by default) and, beside the
slots, states of earlier prompts in host memory (`--cache-ram`, default 8192 MiB: bound it), from
which it took 965 of a Qwen tool turn's 971 prompt tokens after a tool-free and a 1,182-token
summary request had used its only slot (`bench/bench_local_prefix.py --server`). Python's
`llama_cpp.server` is the in-process case again: no cache by default, `LlamaRAMCache` with
`--cache true`.

What it must never do: change what the model says. A restored state holds exactly the cells a
cold read of the same tokens makes, and llama-cpp-python's own prefix match still decides what
is reused, so a wrong guess costs time, never tokens; a failed restore is dropped and the prompt
is read from the start.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# llama-cpp-python's name for "the chat template inside the GGUF": the only template this module
# renders itself; another chat format (a built-in one, a handler) is left alone.
GGUF_TEMPLATE = "chat_template.default"
# Prefix tokens read between two looks at `cancelled` (a read ahead of time gives way to a request
# within one such step; in one call, llama.cpp reads 512 tokens a batch).
READ_STEP = 64
# Openings whose tokens are remembered (a few system prompts and tool sets).
TOKENIZED_OPENINGS = 32


@dataclass(frozen=True, slots=True)
class PrefixState:
    """The KV cells of one prompt prefix, as llama.cpp wrote them."""

    tokens: tuple[int, ...]
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data) + 4 * len(self.tokens)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `PrefixStates.prepare` did before a request (for logs, tests and the bench)."""

    # "off", "skipped" (nothing to keep), "held" (the context had it), "restored", "saved",
    # "stopped" (a read ahead gave way), "failed" (a save or restore did; the turn goes on)
    action: str
    prefix_tokens: int = 0


class PrefixStates:
    """A bounded, least-recently-used store of prefix states for one `Llama` context.

    `prepare` runs only on the worker thread that owns the context; the lock guards the
    bookkeeping that the bench and the tests read from other threads.
    """

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._states: OrderedDict[tuple[int, ...], PrefixState] = OrderedDict()
        self._lock = threading.Lock()
        # How often each `Prepared.action` happened (read by the bench and the tests).
        self.actions: Counter[str] = Counter()
        self._tokenized: dict[str, tuple[int, ...]] = {}

    @property
    def size(self) -> int:
        with self._lock:
            return sum(state.size for state in self._states.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)

    def prefixes(self) -> list[tuple[int, ...]]:
        """The saved prefixes, least recently used first."""
        with self._lock:
            return list(self._states)

    def put(self, state: PrefixState) -> bool:
        """Keep `state`, evicting the least recently used; False if it alone passes the bound."""
        if state.size > self.capacity_bytes:
            return False
        with self._lock:
            self._states.pop(state.tokens, None)
            self._states[state.tokens] = state
            while sum(s.size for s in self._states.values()) > self.capacity_bytes:
                self._states.popitem(last=False)
        return True

    def get(self, tokens: tuple[int, ...]) -> PrefixState | None:
        with self._lock:
            state = self._states.get(tokens)
            if state is not None:
                self._states.move_to_end(tokens)
            return state

    def drop(self, tokens: tuple[int, ...]) -> None:
        with self._lock:
            self._states.pop(tokens, None)

    def prepare(
        self,
        llm: Any,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        *,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Prepared:
        """Before `create_chat_completion(messages, tools=tools)`: put the prompt's prefix (its
        leading system messages and the tools) in the context, from a saved state when the
        context holds something else, and save it when it was not saved yet and tools are on offer
        (the long, shared prefix; a tool-free prefix is tens of tokens). Reading stops between
        steps of `READ_STEP` tokens once `cancelled()` says so ("stopped"; what was read stays)."""
        prepared = self._prepare(llm, messages, tools, cancelled)
        self.actions[prepared.action] += 1
        return prepared

    def _prepare(
        self,
        llm: Any,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        cancelled: Callable[[], bool],
    ) -> Prepared:
        if self.capacity_bytes <= 0 or getattr(llm, "chat_format", None) != GGUF_TEMPLATE:
            return Prepared("off")
        prefix = self._tokens(llm, prefix_text(llm, messages, tools))
        if not prefix:
            return Prepared("skipped")
        held = llm.longest_token_prefix(llm._input_ids.tolist(), prefix)
        if held == len(prefix):
            if tools and llm.n_tokens == held and self.get(prefix) is None:
                return self._save(llm, prefix)
            return Prepared("held", len(prefix))
        saved = self.get(prefix)
        if saved is not None:
            return self._restore(llm, saved)
        if not tools:
            return Prepared("skipped", len(prefix))
        # Read now what `create_chat_completion` would read first anyway, so its cells can be saved.
        llm.n_tokens = held
        for start in range(held, len(prefix), READ_STEP):
            if cancelled():
                return Prepared("stopped", len(prefix))
            llm.eval(list(prefix[start : start + READ_STEP]))
        return self._save(llm, prefix)

    def _tokens(self, llm: Any, text: str) -> tuple[int, ...]:
        """`text`'s tokens, as the handler tokenizes a prompt (its templates write their own special
        tokens), remembered: the same opening comes back every turn, and reading its 1,000 tokens
        took 11 ms. Whether they are exactly the whole prompt's first tokens (a BPE merge across
        the boundary) is llama-cpp-python's own prefix match's to decide: at worst it re-reads the
        last token or two."""
        if not text:
            return ()
        tokens = self._tokenized.get(text)
        if tokens is None:
            tokens = tuple(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
            self._tokenized[text] = tokens
            while len(self._tokenized) > TOKENIZED_OPENINGS:
                self._tokenized.pop(next(iter(self._tokenized)))
        return tokens

    def _save(self, llm: Any, prefix: tuple[int, ...]) -> Prepared:
        try:
            data = read_sequence(llm)
        except Exception:  # the turn goes on with the cells it has; only the saving failed
            log.exception("could not save the state of a %d-token prompt prefix", len(prefix))
            return Prepared("failed", len(prefix))
        kept = self.put(PrefixState(tokens=prefix, data=data))
        return Prepared("saved" if kept else "skipped", len(prefix))

    def _restore(self, llm: Any, state: PrefixState) -> Prepared:
        try:
            write_sequence(llm, state)
        except Exception:
            # Whatever the context holds now is unknown: forget it, so the prompt is read in full.
            log.exception("could not restore a %d-token prompt prefix; reading it again", len(state.tokens))
            self.drop(state.tokens)
            forget_context(llm)
            return Prepared("failed", len(state.tokens))
        return Prepared("restored", len(state.tokens))


def leading_system(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The system messages the prompt opens with (the chat template puts the tools among them)."""
    opening: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") != "system":
            break
        opening.append(message)
    return opening


def prefix_text(llm: Any, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None) -> str:
    """The prompt's opening as llama-cpp-python's GGUF-template handler will render the whole
    prompt; empty when it is not a proper prefix of the whole."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return ""

    def special(token_id: int) -> str:
        return str(llm._model.token_get_text(token_id)) if token_id != -1 else ""

    eos, bos = special(llm.token_eos()), special(llm.token_bos())
    offered = list(tools) if tools else None
    opening = _formatter(template, eos, bos, open_turn=False)(
        messages=leading_system(messages), tools=offered
    )
    whole = _formatter(template, eos, bos, open_turn=True)(messages=list(messages), tools=offered)
    # Never the whole prompt: at least one token is read after it, for fresh logits.
    if (
        not opening.prompt
        or len(opening.prompt) >= len(whole.prompt)
        or not whole.prompt.startswith(opening.prompt)
    ):
        return ""
    return str(opening.prompt)


@functools.lru_cache(maxsize=8)
def _formatter(template: str, eos: str, bos: str, *, open_turn: bool) -> Any:
    """A compiled template (compiling took 14 ms a time, rendering 0.2 ms)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        template=template, eos_token=eos, bos_token=bos, add_generation_prompt=open_turn
    )


def read_sequence(llm: Any) -> bytes:
    """The KV cells of sequence 0, the only sequence a `Llama` uses."""
    import llama_cpp

    size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(llm.ctx, buffer, size, 0)
    if written != size:
        raise RuntimeError(f"llama.cpp wrote {written} of {size} state bytes")
    return bytes(buffer)


def write_sequence(llm: Any, state: PrefixState) -> None:
    """Replace the context's cells with `state`'s, and tell llama-cpp-python which tokens they hold."""
    import llama_cpp

    llm._ctx.kv_cache_seq_rm(0, 0, -1)
    buffer = (ctypes.c_uint8 * len(state.data)).from_buffer_copy(state.data)
    if llama_cpp.llama_state_seq_set_data(llm.ctx, buffer, len(state.data), 0) != len(state.data):
        raise RuntimeError("llama.cpp did not accept the saved state")
    count = len(state.tokens)
    llm.input_ids[:count] = state.tokens
    llm.n_tokens = count
    # The logits on hand belong to whatever ran last: the next token must be evaluated first.
    llm._requires_eval = True


def forget_context(llm: Any) -> None:
    """Nothing of the context is trusted any more: the next prompt is read from its first token."""
    llm._ctx.kv_cache_seq_rm(0, 0, -1)
    llm.reset()
