"""The private model's weights, loaded on a thread of their own when first needed (issue 17).

For `confidante chat`: the GGUF's pin check and vocabulary come first (`prepare`; the caller may
have done them already), and the weights load on a background thread when a caller first needs
them (`stream`, `wait_ready`, the warm-up's `start`), or at once when every answer will need them
(`load_at_once`: no hosted model). A public question answered by a hosted model never needs them,
and on the busy 2-core machine work run beside the gate's load made the gate slower
(bench/bench_cli_start.py). So:

- `stream` asks for the weights and waits until they are loaded, after telling `on_wait` once
  that the model is still loading (a regulated question is answered only by this model, so it
  always waits; a public one only when it falls back here);
- `count_tokens` waits for `prepare`, or counts approximately if the model could not be prepared,
  so a hosted answer is never stopped by a broken local model;
- a failure is kept and raised as one `ModelError` sentence to whoever needs the model; it is
  never logged with a traceback on the thread;
- `close` waits for a load in progress: a process that exited while llama.cpp was loading crashed
  (SIGSEGV after the answer, seen in bench/bench_cli_start.py).

What it must never do: hand a request to a model before `prepare` has returned it (the pin check is
part of `prepare`), or block the event loop while waiting for the load.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from models.base import ChatMessage, ChatModel, ChatRequest, ModelError, ModelKind, StreamEvent, YesNoVerdict

LOADING_NOTICE = "The private model is still loading on this machine; your answer starts when it is ready."


class BackgroundLoaded:
    """A `ChatModel` whose real model is prepared by `prepare()` on a background thread.

    `prepare` returns the model once it may be used (file verified, tokenizer read); `ready` loads
    its weights and returns when they are loaded, on the same thread, once someone asks for them.
    """

    def __init__(
        self,
        prepare: Callable[[], ChatModel],
        *,
        name: str,
        context_window: int,
        ready: Callable[[ChatModel], None] | None = None,
        approximate: Callable[[str], int],
        on_wait: Callable[[str], None] | None = None,
        load_at_once: bool = False,
    ) -> None:
        """`load_at_once`: every answer will need the weights (no hosted model), so load them now."""
        self._name = name
        self._context_window = context_window
        self._approximate = approximate
        self.on_wait = on_wait
        self._prepared: concurrent.futures.Future[ChatModel] = concurrent.futures.Future()
        self._loaded: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._told = False
        self._wanted = threading.Event()  # someone needs the weights (or the model is closing)
        if load_at_once:
            self._wanted.set()
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, args=(prepare, ready), name="local-model-prepare", daemon=True
        )
        self._thread.start()

    # -- background thread ------------------------------------------------------------------
    def _run(self, prepare: Callable[[], ChatModel], ready: Callable[[ChatModel], None] | None) -> None:
        try:
            model = prepare()
        except BaseException as exc:  # kept for the caller that needs the model; never raised here
            self._prepared.set_exception(exc)
            self._loaded.set_exception(exc)
            return
        self._prepared.set_result(model)
        self._wanted.wait()
        if self._closed:  # closed before anyone needed the weights: they are never loaded
            self._loaded.set_exception(ModelError("the local model was closed"))
            return
        try:
            if ready is not None:
                ready(model)
        except BaseException as exc:
            self._loaded.set_exception(exc)
        else:
            self._loaded.set_result(None)

    # -- what the rest of the app reads ----------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> ModelKind:
        return "local"

    @property
    def context_window(self) -> int:
        return self._context_window

    @property
    def inner(self) -> ChatModel | None:
        """The prepared model once it exists (wrapper walks stop here before that, never wait)."""
        if self._prepared.done() and self._prepared.exception() is None:
            return self._prepared.result()
        return None

    @property
    def load_error(self) -> BaseException | None:
        """Why the model could not be made ready (None while loading or once loaded)."""
        if self._loaded.done():
            return self._loaded.exception()
        return None

    def loading(self) -> bool:
        return not self._loaded.done()

    def count_tokens(self, text: str) -> int:
        try:
            model = self._prepared.result()
        except Exception:  # no local model: a hosted turn still gets its (approximate) count
            return self._approximate(text)
        return model.count_tokens(text)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        model = await self._wait_loaded(tell=not request.background)
        async for event in model.stream(request):
            yield event

    async def _wait_loaded(self, *, tell: bool) -> ChatModel:
        self._wanted.set()
        # A background request (the warm-up while a hosted model is slow) keeps quiet: nobody
        # is waiting for it.
        if tell and not self._loaded.done() and not self._told:
            self._told = True
            if self.on_wait is not None:
                self.on_wait(LOADING_NOTICE)
        try:
            await asyncio.wrap_future(self._loaded)
        except Exception as exc:
            raise ModelError(f"the private model could not be loaded: {_reason(exc)}") from None
        return self._prepared.result()

    # -- lifecycle and the private model's extras ------------------------------------------
    def start(self) -> None:
        """Load the weights now (the warm-up's call while a hosted model is slow); idempotent."""
        self._wanted.set()

    def wait_ready(self, timeout: float = 120.0) -> None:
        self._wanted.set()
        try:
            self._loaded.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise ModelError("the local model did not load in time") from None
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"the private model could not be loaded: {_reason(exc)}") from None

    def close(self) -> None:
        """Close the model, after a load in progress has ended (see the module's docstring)."""
        self._closed = True
        self._wanted.set()
        self._thread.join()
        if self.inner is not None:
            _close(self.inner)

    def idle(self) -> bool:
        inner = self.inner
        idle = getattr(inner, "idle", None)
        return bool(idle()) if idle is not None and not self.loading() else False

    def judge_yes_no(
        self, messages: Sequence[ChatMessage], *, timeout_s: float, requester: str | None = None
    ) -> YesNoVerdict:
        """Blocking like the model's own; raises `ModelError` if the model cannot be loaded."""
        self.wait_ready(timeout_s)
        judge = self._prepared.result().judge_yes_no  # type: ignore[attr-defined]
        result: YesNoVerdict = judge(messages, timeout_s=timeout_s, requester=requester)
        return result


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "detail", "") or exc) or type(exc).__name__


def _close(model: Any) -> None:
    closer = getattr(model, "close", None)
    if closer is not None:
        closer()
