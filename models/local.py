"""The in-process llama.cpp model: the only model regulated content is ever sent to.

A `Llama` object is not thread-safe, so one worker thread owns it and serves requests one at a
time, in the order the fair queue (`models/local_queue.py`) decides: interactive first, turns
taken between users, "busy" only past a bounded wait. A consumer that stops reading (Stop
button, closed tab, task cancelled) sets the job's cancel flag, or leaves the line if it was
still waiting; the worker checks it between tokens, so generation stops and the worker is freed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.base import (
    ChatMessage,
    ChatRequest,
    ModelError,
    ModelKind,
    ModelTimeout,
    StreamClock,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolDefinition,
    Usage,
    YesNoVerdict,
    stream_accepted,
)
from models.local_queue import FairQueue, Ticket
from models.prefix_states import PrefixStates
from models.settings import LocalModelSettings
from models.tool_calls import ToolCallAssembler, ToolCallText
from models.yes_no import NO_SPELLINGS, YES_SPELLINGS, log_softmax, single_token_ids, verdict

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C-level writes to stderr (fd 2) for the duration of the block."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# ChatML adds about this many tokens per message around its content.
_PER_MESSAGE_OVERHEAD = 4
_STOP = object()


def worker_threads(settings: LocalModelSettings) -> int:
    """Threads for generation and prompt processing: as set, else half the cores (llama.cpp's
    default for generation; for prompt processing llama-cpp-python would take every core).

    Not every core: on a busy 2-core machine two llama.cpp threads waiting on each other ran
    several times slower than one (bench/eval_local_models.py, --threads 1 vs 2). Returning None
    here left prompt processing on every core: at load average 20, SmolLM2's first evaluation took
    30 s and each later prompt 2-6 s to its first token; with one thread, 1.8 s and 0.2 s (issue 17).
    """
    return settings.threads or max(1, (os.cpu_count() or 2) // 2)


def stop_sequences(request: ChatRequest, settings: LocalModelSettings) -> list[str]:
    """The request's own stops, then the profile's end-of-turn markers, without duplicates."""
    return list(dict.fromkeys((*request.stop, *settings.stop)))


def json_format(request: ChatRequest, settings: LocalModelSettings) -> dict[str, str] | None:
    """llama.cpp's JSON grammar, where the profile wants it (the caller validates either way)."""
    return {"type": "json_object"} if request.json_mode and settings.json_grammar else None


def template_message(message: ChatMessage) -> dict[str, Any]:
    """A message for the GGUF's chat template: tool-call arguments as a JSON object, not a string.

    Chat templates (Qwen 2.5's) render `arguments | tojson`; a string there comes out as escaped,
    quoted JSON, and the model, not recognising its own call, asked for it again (seen by hand).
    """
    data = message.wire()
    for call in data.get("tool_calls", ()):
        function = call["function"]
        with contextlib.suppress(ValueError):  # not JSON: the model sees exactly what it wrote
            function["arguments"] = json.loads(function["arguments"])
    return data


def tool_arguments(request: ChatRequest, settings: LocalModelSettings) -> dict[str, Any]:
    """`tools`/`tool_choice` for llama.cpp, only for a model whose settings say it can use them.

    A forced tool (`ForceTool`) makes llama.cpp constrain the output with a grammar built from the
    tool's JSON schema and stream it as a tool call; otherwise the chat template describes the
    tools and the model writes `<tool_call>` blocks (read by `ToolCallText`). "none" sends none.
    """
    if not request.tools or not settings.supports_tools or request.tool_choice == "none":
        return {}
    tools = [tool.wire() for tool in request.tools]
    if isinstance(request.tool_choice, str):
        return {"tools": tools}
    forced = {"type": "function", "function": {"name": request.tool_choice.name}}
    return {"tools": tools, "tool_choice": forced}


def sampling(settings: LocalModelSettings) -> dict[str, Any]:
    """The profile's sampling defaults (top-k/top-p only matter above temperature 0)."""
    return {
        "top_p": settings.top_p,
        "top_k": settings.top_k,
        "repeat_penalty": settings.repeat_penalty,
        "presence_penalty": settings.presence_penalty,
    }


@dataclass(eq=False)
class _Job:
    request: ChatRequest
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue[StreamEvent | BaseException]
    cancel: threading.Event = field(default_factory=threading.Event)
    ticket: Ticket[_AnyJob] | None = None
    # A whole answer went out: its time teaches the queue how long a job takes.
    completed: bool = False

    def emit(self, item: StreamEvent | BaseException) -> None:
        if isinstance(item, StreamEnd) and item.finish_reason != "cancelled":
            self.completed = True
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # the consumer's loop is closed: nobody is listening any more
            self.cancel.set()


@dataclass(eq=False)
class _JudgeJob:
    """A yes/no judgement: one forward pass on the worker, its verdict handed back by a future."""

    messages: tuple[ChatMessage, ...]
    future: concurrent.futures.Future[YesNoVerdict] = field(default_factory=concurrent.futures.Future)
    cancel: threading.Event = field(default_factory=threading.Event)
    ticket: Ticket[_AnyJob] | None = None
    # Never a measure of how long an answer takes: a judgement is one forward pass.
    completed: bool = False

    def emit(self, item: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(item)


@dataclass(eq=False)
class _PrefixJob:
    """Reading a prompt's opening (system prompt and tools) ahead of its first turn, so that turn
    finds it saved (`models.prefix_states`); gives way to any request that starts waiting."""

    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolDefinition, ...]
    future: concurrent.futures.Future[str] = field(default_factory=concurrent.futures.Future)
    cancel: threading.Event = field(default_factory=threading.Event)
    ticket: Ticket[_AnyJob] | None = None
    completed: bool = False  # never a measure of how long an answer takes

    def emit(self, item: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(item)


_AnyJob = _Job | _JudgeJob | _PrefixJob


class LocalModel:
    """A GGUF model served by llama-cpp-python on one worker thread."""

    def __init__(
        self,
        model_path: Path,
        settings: LocalModelSettings,
        *,
        loader: Callable[..., Any] | None = None,
    ) -> None:
        self._path = model_path
        self._settings = settings
        self._loader = loader
        # The queue decides the order; the worker's inbox only ever holds what it started.
        self.queue: FairQueue[_AnyJob] = FairQueue(
            slots=1, max_wait_s=settings.queue_max_wait_s, max_waiting=settings.queue_size
        )
        # Tickets, not jobs: a ticket can start inside `submit`, before `submit` has returned it.
        self._inbox: queue.SimpleQueue[Ticket[_AnyJob] | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._load_error: BaseException | None = None
        self._start_lock = threading.Lock()
        self._vocab: Any = None
        # Tool turns' prompt prefixes, kept across other requests (only the worker touches them).
        self.prefix_states = PrefixStates(settings.prefix_cache_mb * 1024 * 1024)
        self._yes_no_ids: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    # -- ChatModel protocol -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._settings.name

    @property
    def kind(self) -> ModelKind:
        return "local"

    @property
    def context_window(self) -> int:
        return self._settings.context_window

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._tokenizer().tokenize(text.encode("utf-8", "replace"), add_bos=False, special=False))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.start()
        job = _Job(request=request, loop=asyncio.get_running_loop(), out=asyncio.Queue())
        # `QueueTooLong` (a `ModelBusy`) when the wait would pass the bound.
        job.ticket = self.queue.submit(
            job,
            requester=request.requester,
            background=request.background,
            on_start=self._inbox.put,
        )
        try:
            if not request.background:
                await stream_accepted()
            while True:
                item = await job.out.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, StreamEnd):
                    return
        finally:
            # Reached on normal end, on aclose() and on task cancellation alike.
            job.cancel.set()
            self.queue.withdraw(job.ticket)  # still waiting: its place goes to the next

    # -- YesNoJudge protocol --------------------------------------------------------------
    def idle(self) -> bool:
        """Nothing running and nothing waiting: a judgement would start at once."""
        return self.queue.running == 0 and self.queue.waiting == 0

    def judge_yes_no(
        self, messages: Sequence[ChatMessage], *, timeout_s: float, requester: str | None = None
    ) -> YesNoVerdict:
        """P(yes) for the reply to `messages`, from the next-token distribution (see `models.yes_no`).

        Blocking (retrieval is synchronous): call it off the event loop. Goes through the fair
        queue like any request; `ModelTimeout` past `timeout_s`, the judgement then dropped.
        """
        self.start()
        job = _JudgeJob(messages=tuple(messages))
        job.ticket = self.queue.submit(job, requester=requester, background=False, on_start=self._inbox.put)
        try:
            return job.future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError as exc:
            raise ModelTimeout(f"yes/no judgement took over {timeout_s} s") from exc
        finally:
            job.cancel.set()
            self.queue.withdraw(job.ticket)

    def read_prefix(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolDefinition]
    ) -> concurrent.futures.Future[str]:
        """Read and save the opening of a prompt that starts with `messages` and offers `tools`
        (a warm-up: `routing.warmup.warm_tool_prefix`), as a background job of the fair queue.
        The future ends with what was done (`Prepared.action`); `QueueTooLong` when the queue is
        full. Never blocks; nothing of a user's belongs in `messages`."""
        self.start()
        job = _PrefixJob(messages=tuple(messages), tools=tuple(tools))
        job.ticket = self.queue.submit(job, requester=None, background=True, on_start=self._inbox.put)
        return job.future

    @property
    def yes_no_token_ids(self) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """The vocabulary's one-token spellings of yes and of no (known after a first judgement)."""
        return self._yes_no_ids

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker (loads the model on the worker thread). Idempotent."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="llama-worker", daemon=True)
                self._thread.start()

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.start()
        if not self._ready.wait(timeout):
            raise ModelError("the local model did not load in time")
        if self._load_error is not None:
            raise ModelError(f"the local model failed to load: {self._load_error}")

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            for ticket in self.queue.drain():
                ticket.job.emit(ModelError("the local model is shutting down"))
            self._inbox.put(_STOP)
            self._thread.join(timeout=5)

    def queue_depth(self) -> int:
        return self.queue.waiting

    def retry_after_s(self) -> int:
        return max(1, round((self.queue.waiting + 1) * self.queue.avg_job_s))

    # -- worker --------------------------------------------------------------------------
    def _load(self) -> Any:
        if self._loader is not None:
            return self._loader()
        from llama_cpp import Llama

        return Llama(
            model_path=str(self._path),
            n_ctx=self._settings.context_window,
            n_threads=worker_threads(self._settings),
            # Prompt processing too (llama-cpp-python would take every core for it).
            n_threads_batch=worker_threads(self._settings),
            seed=self._settings.seed,
            chat_format=self._settings.chat_format,
            verbose=False,
        )

    def _tokenizer(self) -> Any:
        # A vocab-only copy: tokenizing on the caller's thread never touches the worker's model.
        if self._vocab is None:
            if self._loader is not None:
                self._vocab = self._loader()
            else:
                from llama_cpp import Llama

                try:
                    # A vocab-only model has no training context, so llama.cpp warns on stderr
                    # about a context overflow that cannot happen here: keep it quiet.
                    with _quiet_stderr():
                        self._vocab = Llama(model_path=str(self._path), vocab_only=True, verbose=False)
                except (ValueError, OSError, RuntimeError) as exc:
                    raise ModelError(f"the local model could not be loaded from {self._path}: {exc}") from exc
        return self._vocab

    def _run(self) -> None:
        try:
            llm = self._load()
        except BaseException as exc:  # reported to every caller, never raised on this thread
            log.exception("local model failed to load")
            self._load_error = exc
            llm = None
        self._ready.set()
        while True:
            ticket = self._inbox.get()
            if ticket is _STOP:
                return
            assert isinstance(ticket, Ticket)
            job = ticket.job
            try:
                if isinstance(job, _JudgeJob):
                    self._judge(llm, job)
                elif isinstance(job, _PrefixJob):
                    self._read_prefix(llm, job)
                else:
                    self._serve(llm, job)
            finally:
                self.queue.finish(ticket, measured=job.completed)

    def _serve(self, llm: Any, job: _Job) -> None:
        if job.cancel.is_set():
            return
        if llm is None:
            job.emit(ModelError(f"local model failed to load: {self._load_error}"))
            return
        try:
            self._generate(llm, job)
        except BaseException as exc:
            log.exception("local generation failed")
            job.emit(ModelError(f"local generation failed: {exc}"))

    def _judge(self, llm: Any, job: _JudgeJob) -> None:
        if job.cancel.is_set():
            job.emit(ModelTimeout("the caller stopped waiting"))
            return
        if llm is None:
            job.emit(ModelError(f"local model failed to load: {self._load_error}"))
            return
        try:
            started = time.monotonic()
            tokens = chat_prompt_tokens(llm, job.messages)
            logprobs = log_softmax(next_token_logits(llm, tokens, cancelled=job.cancel.is_set))
            yes_ids, no_ids = self._yes_no_token_ids(llm)
            job.future.set_result(
                verdict(
                    [float(logprobs[i]) for i in yes_ids],
                    [float(logprobs[i]) for i in no_ids],
                    latency_ms=(time.monotonic() - started) * 1000,
                    model=self.name,
                )
            )
        except BaseException as exc:
            log.exception("local yes/no judgement failed")
            job.emit(exc if isinstance(exc, ModelError) else ModelError(f"yes/no judgement failed: {exc}"))

    def _read_prefix(self, llm: Any, job: _PrefixJob) -> None:
        if llm is None or self._loader is not None:
            job.future.set_result("off")
            return
        try:
            request = ChatRequest.of(job.messages, tools=job.tools)
            tools = tool_arguments(request, self._settings).get("tools")
            messages = [template_message(m) for m in job.messages]
            # Gives way between steps to anyone waiting: it is only ever time saved ahead.
            prepared = self.prefix_states.prepare(
                llm, messages, tools, cancelled=lambda: job.cancel.is_set() or self.queue.waiting > 0
            )
            job.future.set_result(prepared.action)
        except BaseException as exc:
            log.exception("reading a prompt prefix ahead failed")
            job.emit(exc)

    def _yes_no_token_ids(self, llm: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if self._yes_no_ids is None:

            def tokenize(text: str) -> list[int]:
                return list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

            self._yes_no_ids = (
                single_token_ids(tokenize, YES_SPELLINGS),
                single_token_ids(tokenize, NO_SPELLINGS),
            )
        return self._yes_no_ids

    def _generate(self, llm: Any, job: _Job) -> None:
        request = job.request
        clock = StreamClock(started=time.monotonic())
        finish = "stop"
        tools = tool_arguments(request, self._settings)
        messages = [template_message(m) for m in request.messages]
        self._prepare_prefix(llm, messages, tools.get("tools"), job.cancel.is_set)
        if job.cancel.is_set():  # stopped while its prefix was read
            job.emit(self._end(llm, request, clock, "cancelled"))
            return
        chunks: Iterator[dict[str, Any]] = llm.create_chat_completion(
            messages=messages,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=stop_sequences(request, self._settings),
            response_format=json_format(request, self._settings),
            stream=True,
            **tools,
            **sampling(self._settings),
        )
        # After tool results a round without tools (the loop's last answer) may still write a call:
        # it is read, so no markup is shown, and dropped (none was offered).
        markup = bool(tools) or any(m.role == "tool" for m in request.messages)
        deltas, written = (
            ToolCallAssembler(),
            ToolCallText([t.name for t in request.tools], reads_json=markup),
        )
        try:
            for chunk in chunks:
                if job.cancel.is_set():
                    finish = "cancelled"
                    break
                choice = chunk["choices"][0]
                delta = choice.get("delta") or {}
                deltas.feed(delta.get("tool_calls"))
                text = delta.get("content") or ""
                self._show(job, clock, written.feed(text) if markup else text)
                if choice.get("finish_reason"):
                    finish = "length" if choice["finish_reason"] == "length" else "stop"
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        self._show(job, clock, written.flush())
        calls = (*deltas.calls(), *written.calls()) if tools and finish != "cancelled" else ()
        for call in calls:
            job.emit(ToolCallEvent(call))
        job.emit(self._end(llm, request, clock, "tool_calls" if calls else finish))

    def _prepare_prefix(
        self,
        llm: Any,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        cancelled: Callable[[], bool],
    ) -> None:
        if self._loader is not None:  # a test double: no llama.cpp context to save or restore
            return
        try:
            prepared = self.prefix_states.prepare(llm, messages, tools, cancelled=cancelled)
        except Exception:  # only time is at stake: the completion reads what it must
            log.exception("preparing the prompt prefix failed")
            return
        log.debug("prompt prefix: %s (%d tokens)", prepared.action, prepared.prefix_tokens)

    @staticmethod
    def _show(job: _Job, clock: StreamClock, text: str | None) -> None:
        if text:
            clock.mark(time.monotonic(), text)
            job.emit(TextDelta(text))

    def _end(self, llm: Any, request: ChatRequest, clock: StreamClock, finish: str) -> StreamEnd:
        def tokens(text: str) -> int:
            return (
                len(llm.tokenize(text.encode("utf-8", "replace"), add_bos=False, special=False))
                if text
                else 0
            )

        prompt = sum(tokens(m.content) + _PER_MESSAGE_OVERHEAD for m in request.messages)
        return StreamEnd(
            model=self.name,
            kind="local",
            usage=Usage(prompt_tokens=prompt, completion_tokens=tokens(clock.text), source="counted"),
            finish_reason=finish,  # type: ignore[arg-type]
            latency_ms=(time.monotonic() - clock.started) * 1000,
            ttft_ms=clock.ttft_ms(),
            text=clock.text,
        )


def chat_prompt_tokens(llm: Any, messages: Sequence[ChatMessage]) -> list[int]:
    """The GGUF's own chat template applied to `messages`, up to the assistant's first token."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelError("this GGUF has no chat template: a yes/no judgement needs one")

    def special(token_id: int) -> str:
        return str(llm._model.token_get_text(token_id)) if token_id != -1 else ""

    formatter = Jinja2ChatFormatter(
        template=template, eos_token=special(llm.token_eos()), bos_token=special(llm.token_bos())
    )
    prompt = formatter(messages=[m.wire() for m in messages]).prompt  # type: ignore[misc]
    return list(llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))


# Prompt tokens evaluated between two looks at the cancel flag: a judgement whose caller gave up
# frees the worker within one such step instead of finishing a prompt nobody waits for.
JUDGE_EVAL_STEP = 64


def next_token_logits(
    llm: Any, tokens: Sequence[int], *, cancelled: Callable[[], bool] = lambda: False
) -> Any:
    """Logits of the token after `tokens`: one forward pass, reusing the cached common prefix.

    Not `create_completion(logprobs=...)`: that needs the model built with `logits_all=True`,
    a context-sized logits buffer (4096 x 151,936 floats, 2.5 GB for Qwen) on every request.
    `ModelTimeout` as soon as `cancelled()` says the caller stopped waiting.
    """
    import numpy as np

    if not tokens:
        raise ModelError("an empty prompt has no next token")
    # What the KV cache already holds for this prompt's prefix is kept (the chat's system prompt,
    # the question shared by two passages); at least one token is evaluated, for fresh logits.
    keep = min(llm.longest_token_prefix(llm._input_ids.tolist(), tokens), len(tokens) - 1)
    llm.n_tokens = keep
    rest = list(tokens[keep:])
    for start in range(0, len(rest), JUDGE_EVAL_STEP):
        if cancelled():
            raise ModelTimeout("the caller stopped waiting for the judgement")
        llm.eval(rest[start : start + JUDGE_EVAL_STEP])
    row = llm._ctx.get_logits_ith(-1)
    return np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).copy()
