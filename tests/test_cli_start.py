"""`confidante chat` starts without waiting for the local model (issue 17): it loads in the background.

Logic with scripted models and a scripted gate, the local model's load held by an Event (never a
sleep or a timing assert): a public question is answered by the hosted model while the local one is
still loading; a regulated one waits for it, after saying so; a failed load is one sentence. Then
the real command in a subprocess: a broken local model still lets a public question be answered,
and ends in one line, no traceback; and why the command writes through its own copies of stdout.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet
from assistant.settings import Settings
from assistant.turns import AnswerDelta, Conversation, TurnResult
from models.background_load import LOADING_NOTICE, BackgroundLoaded
from models.base import ChatModel, ModelError
from models.degeneration import LoopGuard
from models.fakes import QueueModel
from models.files import ModelFileError
from models.hosted import approximate_tokens
from tests.support.privacy import ScriptedPrivacy
from tests.test_cli_chat import run_cli

GUARD_S = 30.0
PUBLIC = "Name three colours."
REGULATED = "My SSN is 078-05-1120, what do I do?"


class HeldLoad:
    """A local model whose weights 'load' until the test releases them (or raise `error`)."""

    def __init__(self, error: BaseException | None = None, *, fail_in: str = "load") -> None:
        self.model = QueueModel(default="Local answer.", name="local-fake", kind="local")
        self.release = threading.Event()
        self.error, self.fail_in = error, fail_in
        self.waits: list[str] = []
        self.load_started = threading.Event()

    def prepare(self) -> ChatModel:
        if self.error is not None and self.fail_in == "prepare":
            raise self.error
        return self.model

    def ready(self, _model: ChatModel) -> None:
        self.load_started.set()
        if not self.release.wait(GUARD_S):
            raise AssertionError("the test never released the load")
        if self.error is not None and self.fail_in == "load":
            raise self.error

    def background(
        self, on_wait: Callable[[str], None] | None = None, *, load_at_once: bool = False
    ) -> BackgroundLoaded:
        return BackgroundLoaded(
            self.prepare, name="local-fake", context_window=2048, ready=self.ready,
            approximate=approximate_tokens, on_wait=on_wait or self.waits.append,
            load_at_once=load_at_once,
        )  # fmt: skip


def pipeline_with(local: BackgroundLoaded, hosted: QueueModel) -> ChatPipeline:
    return ChatPipeline(
        settings=Settings(), models=ModelSet(local=LoopGuard(local), hosted=[hosted]),
        privacy=ScriptedPrivacy(),  # type: ignore[arg-type]
    )  # fmt: skip


async def turn(pipeline: ChatPipeline, text: str) -> tuple[str, TurnResult]:
    conversation = Conversation(id="cli-test", principal=Principal(user_id="operator"))
    answer, result = [], None
    async for event in pipeline.run(conversation, text):
        if isinstance(event, AnswerDelta):
            answer.append(event.text)
        elif isinstance(event, TurnResult):
            result = event
    assert result is not None
    return "".join(answer), result


def hosted_model() -> QueueModel:
    return QueueModel(default="Red, green and blue.", name="gpt-4o", kind="hosted")


async def test_a_public_question_never_asks_for_the_local_models_weights() -> None:
    held, hosted = HeldLoad(), hosted_model()
    local = held.background()
    try:
        answer, result = await asyncio.wait_for(turn(pipeline_with(local, hosted), PUBLIC), GUARD_S)
        assert answer == "Red, green and blue." and result.model == "gpt-4o"
        assert not held.load_started.is_set() and held.waits == []
    finally:
        held.release.set()
        await asyncio.to_thread(local.close)
    assert not held.load_started.is_set(), "closing loaded weights nobody needed"


async def test_a_public_question_is_answered_while_the_local_model_is_still_loading() -> None:
    held, hosted = HeldLoad(), hosted_model()
    local = held.background(load_at_once=True)  # as without a hosted model, or once warm-up starts
    try:
        assert await asyncio.to_thread(held.load_started.wait, GUARD_S)
        answer, result = await asyncio.wait_for(turn(pipeline_with(local, hosted), PUBLIC), GUARD_S)
        assert local.loading(), "the local model finished loading: the test proved nothing"
        assert answer == "Red, green and blue." and result.model == "gpt-4o"
        assert held.waits == [] and held.model.requests == []
    finally:
        held.release.set()


async def test_a_regulated_question_waits_for_the_local_model_and_says_so() -> None:
    told = asyncio.Event()
    loop = asyncio.get_running_loop()
    held, hosted = HeldLoad(), hosted_model()
    waits: list[str] = []

    def on_wait(text: str) -> None:
        waits.append(text)
        loop.call_soon_threadsafe(told.set)

    local = held.background(on_wait)
    running = asyncio.create_task(turn(pipeline_with(local, hosted), REGULATED))
    try:
        await asyncio.wait_for(told.wait(), GUARD_S)
        assert waits == [LOADING_NOTICE] and not running.done() and held.model.requests == []
    finally:
        held.release.set()
    answer, result = await asyncio.wait_for(running, GUARD_S)
    assert answer == "Local answer." and result.model == "local-fake" and result.route == "local"
    assert hosted.requests == [], "a regulated question reached the hosted model"
    assert waits == [LOADING_NOTICE]  # told once


@pytest.mark.parametrize("fail_in", ["prepare", "load"])
async def test_a_failed_background_load_is_one_sentence_where_the_model_is_needed(fail_in: str) -> None:
    error = ModelFileError("model file x.gguf does not match its pinned sha256; refusing to load it")
    held, hosted = HeldLoad(error, fail_in=fail_in), hosted_model()
    held.release.set()
    local = held.background()
    answer, result = await asyncio.wait_for(turn(pipeline_with(local, hosted), REGULATED), GUARD_S)
    assert result.outcome == "error" and "did not send it anywhere else" in answer
    assert hosted.requests == []
    assert local.load_error is error
    with pytest.raises(ModelError, match=r"could not be loaded: model file x\.gguf does not match"):
        local.wait_ready(GUARD_S)
    # A hosted turn still counts its tokens (approximately) when there is no local tokenizer.
    assert local.count_tokens("three words here") == approximate_tokens("three words here")


async def test_closing_a_model_that_is_still_loading_waits_for_the_load_and_closes_it() -> None:
    closed = threading.Event()
    held = HeldLoad()
    held.model.close = closed.set  # type: ignore[attr-defined]
    local = held.background()
    local.start()
    assert await asyncio.to_thread(held.load_started.wait, GUARD_S)
    closing = asyncio.ensure_future(asyncio.to_thread(local.close))
    assert not closed.is_set()  # nothing closes before the load ends: it is held
    held.release.set()
    await asyncio.wait_for(closing, GUARD_S)
    assert closed.is_set()


def test_a_model_file_that_fails_its_check_stops_chat_with_one_line(data_dir: Path, tmp_path: Path) -> None:
    """The real command: the pin check runs before anything is answered, as it always did."""
    missing = tmp_path / "missing.gguf"
    proc = run_cli(["chat", PUBLIC], data_dir, CONFIDANTE_MODELS__LOCAL__PATH=str(missing))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"confidante: model file not found: {missing}"


def test_what_the_command_writes_reaches_the_terminal_while_llama_cpp_silences_it() -> None:
    """llama-cpp-python points fds 1 and 2 at /dev/null while a model loads; the command's own
    copies (`Terminal`) still reach the pipe."""
    script = (
        "import click\n"
        "from llama_cpp._utils import suppress_stdout_stderr\n"
        "from assistant.cli import Terminal\n"
        "terminal = Terminal.of_process()\n"
        "with suppress_stdout_stderr(disable=False):\n"
        "    print('lost')\n"
        "    click.echo('answer', file=terminal.out)\n"
        "    click.echo('notice', file=terminal.err)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "answer\n" and proc.stderr == "notice\n"


def test_building_the_chat_tools_does_not_import_chainlit() -> None:
    """`confidante chat` builds the same tools as the UI; Chainlit (~1.8 s CPU to import) is only
    imported where a step is shown in the UI."""
    script = (
        "import sys\n"
        "import assistant.cli\n"
        "from assistant.settings import Settings\n"
        "from assistant.tools.wiring import build_chat_tools\n"
        "from tests.support.privacy import ScriptedPrivacy\n"
        "settings = Settings()\n"
        "assert settings.tools.enabled\n"
        "tools = build_chat_tools(settings, privacy=ScriptedPrivacy(), knowledge=None, governance=None)\n"
        "assert tools is not None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'chainlit'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_pin_check_comes_before_the_gate_and_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With and without the background load: a bad pin stops `build_services` before the gate is
    built (run beside the gate, the check made the gate's load slower on the busy machine)."""
    import assistant.services as services_module

    built: list[str] = []

    def check(_settings: object, _data_dir: object) -> Path:
        raise ModelFileError("model file x.gguf does not match its pinned sha256; refusing to load it")

    monkeypatch.setattr(services_module, "resolve_local_model", check)
    monkeypatch.setattr(services_module, "build_privacy", lambda _settings: built.append("gate"))
    for on_local_wait in (None, print):
        with pytest.raises(ModelFileError, match="does not match its pinned sha256"):
            services_module.build_services(
                Settings(data_dir=tmp_path / "data"), with_governance=False, on_local_wait=on_local_wait
            )
    assert built == []


def test_a_store_in_use_is_said_on_the_terminal_even_while_llama_cpp_silences_it() -> None:
    """With the app running, `chat` cannot open the embedded store; the one-line reason goes through
    the command's own stderr copy (it used to go to fd 2, silenced during a model load: the user saw
    nothing and exit 2)."""
    script = (
        "import asyncio\n"
        "import click\n"
        "from llama_cpp._utils import suppress_stdout_stderr\n"
        "import assistant.services as services\n"
        "from assistant.cli import Terminal, _chat_once\n"
        "from assistant.settings import Settings\n"
        "from knowledge.store import StoreInUse\n"
        "def refuse(*args, **kwargs):\n"
        "    raise StoreInUse('the knowledge base is in use by another Confidante process')\n"
        "services.build_services = refuse\n"
        "terminal = Terminal.of_process()\n"
        "code = None\n"
        "with suppress_stdout_stderr(disable=False):\n"
        "    try:\n"
        "        asyncio.run(_chat_once(Settings(), 'hi', terminal, stream_to_stdout=True))\n"
        "    except SystemExit as exc:\n"
        "        code = exc.code\n"
        "click.echo(f'exit {code}', file=terminal.out)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "exit 2\n"
    assert proc.stderr == "confidante: the knowledge base is in use by another Confidante process\n"
