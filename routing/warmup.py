"""Getting the private model ready while a hosted model is still being waited for.

The in-process local model loads lazily, on its first request, and its first evaluation pages
the weights in (about 2.5 s more than a warm one for the 1.5B model here). A long-lived app pays
that once at start-up; a one-shot `confidante chat` paid it *after* a hung hosted endpoint had
used up the turn's hosted deadline, which put the fallback answer past the 12 s goal.
`LocalWarmup.fire` starts the load and one tiny evaluation at once, on a task of its own, so they
overlap the wait; the fallback loop fires it when a hosted model has sent nothing for a moment
(`TurnDeadline.on_slow`), so a healthy hosted answer costs nothing.

`warm_tool_prefix` is the other warm-up, for a long-lived app at start-up: the in-process model
reads the opening of a regulated turn's prompt (the system prompt and the tool definitions,
~960 tokens for Qwen 1.5B with the five built-in tools) and saves its state
(`models.prefix_states`), so the first tool turn, and every tool turn after another request, does
not read it again. It is a background job that gives way to any request that starts waiting.

What it must never do: send anything of the user's (the warm-up text is fixed), reach a model
that is not local at every layer, or make a turn wait for it or fail because of it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import weakref
from collections.abc import Sequence
from typing import Any

from models.base import ChatMessage, ChatModel, ChatRequest, ModelError, ToolDefinition

log = logging.getLogger(__name__)

# A hosted model that has sent nothing this long is probably not a healthy one answering (first
# events normally come well under a second), so the local model starts getting ready.
WARM_AFTER_S = 1.0
WARM_REQUEST = ChatRequest.of(
    [ChatMessage(role="user", content="Hi")], max_tokens=1, temperature=0.0, background=True
)

_warmed: weakref.WeakSet[Any] = weakref.WeakSet()  # the loaders already warmed in this process
_running: set[asyncio.Task[None]] = set()  # keeps fire-and-forget tasks referenced until done


def _layers(model: Any) -> list[Any]:
    layers, current = [model], model
    while (current := getattr(current, "inner", None)) is not None:
        layers.append(current)
    return layers


def lazy_loader(model: Any) -> Any | None:
    """The layer of `model` whose `start()` loads it, if it loads lazily and every layer is
    local; None for anything else (a hosted model, a chain, a private server, a test double)."""
    if getattr(model, "models", None):  # a chain: its members are warmed by their own walk
        return None
    if any(getattr(layer, "kind", None) != "local" for layer in _layers(model)):
        return None
    for layer in _layers(model):
        start = getattr(layer, "start", None)
        if callable(start):
            return getattr(start, "__self__", None)
    return None


class LocalWarmup:
    """Warms the first lazily loaded local candidate of a chain, once per process."""

    def __init__(self, models: Sequence[ChatModel], *, request: ChatRequest | None = None) -> None:
        self.model = next((m for m in models if lazy_loader(m) is not None), None)
        # A fixed request sharing the turn's prompt prefix (the configured system prompt, never the
        # user's text): llama.cpp keeps its evaluation, so the fallback's first token comes sooner.
        # That is the fallback's whole prefix before the user's words because the fallback is
        # offered no tools by default (`reliability.local_fallback_tools`; tests/test_warmup_prefix.py).
        self.request = request or WARM_REQUEST

    def fire(self) -> None:
        """Start warming now (idempotent, never blocks, never raises into the caller)."""
        loader = lazy_loader(self.model) if self.model is not None else None
        if loader is None or loader in _warmed:
            return
        _warmed.add(loader)
        # A fresh context: nothing of the turn's (e.g. its hosted deadline) applies to the warm-up.
        warming = _warm(self.model, loader, self.request)
        task = asyncio.get_running_loop().create_task(warming, context=contextvars.Context())
        _running.add(task)
        task.add_done_callback(_running.discard)


async def _warm(model: Any, loader: Any, request: ChatRequest = WARM_REQUEST) -> None:
    try:
        loader.start()
        async for _event in model.stream(request):
            pass
        log.info("local model %s warmed while a hosted model was slow", model.name)
    except ModelError as exc:  # e.g. busy: a real request loads it anyway
        _warmed.discard(loader)
        log.info("local warm-up skipped: %s", exc.detail or exc)
    except Exception:
        _warmed.discard(loader)
        log.exception("local warm-up failed")


def warm_tool_prefix(
    model: ChatModel | None, system_prompt: str, tools: Sequence[ToolDefinition]
) -> concurrent.futures.Future[str] | None:
    """Have a lazily loaded, all-local `model` read and save the opening of a tool turn's prompt
    (`system_prompt` and `tools`, both the deployment's, nothing of a user's) in the background.
    The read's future when it was queued (it ends with what was done), else None; never blocks,
    never raises."""
    loader = lazy_loader(model) if model is not None else None
    read = getattr(loader, "read_prefix", None)
    if not tools or read is None:
        return None
    try:
        future: concurrent.futures.Future[str] = read(
            [ChatMessage(role="system", content=system_prompt)], tools
        )
    except ModelError as exc:  # e.g. the queue is full: the first tool turn reads it instead
        log.info("tool prefix warm-up skipped: %s", exc.detail or exc)
        return None
    future.add_done_callback(_prefix_read)
    return future


def _prefix_read(future: concurrent.futures.Future[str]) -> None:
    if future.exception() is not None:
        log.warning("tool prefix warm-up failed: %s", future.exception())
    else:
        log.info("tool prefix warm-up: %s", future.result())
