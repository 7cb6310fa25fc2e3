"""The `confidante` command: one entry point, one subcommand per job.

Every command loads the settings tree once; invalid settings end the command with one line
naming the bad key (exit 2), never a traceback.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import logging
import os
import sys
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import click

from assistant.identity import LOCAL_OPERATOR
from assistant.settings import Settings, SettingsError, load_settings
from assistant.turns import AnswerDelta, Conversation, Notice, TurnResult

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy import Engine

    from assistant.services import Services
    from routing.gate import SensitivityGate


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        click.echo(f"confidante: {exc}", err=True)
        raise SystemExit(2) from None


def configure_logging(settings: Settings, *, quiet: bool = False) -> None:
    from assistant.security.log_scrub import install_log_scrubbing

    level = logging.WARNING if quiet else getattr(logging, settings.logging.level)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    install_log_scrubbing(settings)  # API keys and identifiers never reach a log line


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Confidante: a private-by-default assistant. Regulated content stays on this machine."""
    from knowledge.cli import APP_DATABASE, APP_SETTINGS, SCRATCH_DATABASE
    from routing.cli import GATE_FACTORY

    # The lower packages' commands are assembled here: they get the app's settings from us, and
    # its databases opened through its migrations.
    ctx.meta[APP_SETTINGS] = _cli_settings
    ctx.meta[GATE_FACTORY] = _cli_gate
    ctx.meta[APP_DATABASE] = _app_database
    ctx.meta[SCRATCH_DATABASE] = _scratch_database


def _app_database(settings: Settings) -> Engine:
    from assistant.governance.db import open_database

    return open_database(settings.governance, settings.data_dir)


def _scratch_database(directory: Path) -> Engine:
    """A fresh SQLite file under `directory`, migrated; never the configured database."""
    from assistant.governance.db import open_database
    from assistant.governance.settings import GovernanceSettings

    return open_database(GovernanceSettings(), directory)


def _cli_settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _cli_gate() -> SensitivityGate:
    from routing.gate import build_gate

    return build_gate(_cli_settings().routing)


@main.command()
@click.argument("message")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of streaming text.")
def chat(message: str, as_json: bool) -> None:
    """Send MESSAGE through the same pipeline as the web UI."""
    settings = settings_or_exit()
    configure_logging(settings, quiet=True)
    skip_final_collection_at_exit()
    terminal = Terminal.of_process()
    result, load_error = asyncio.run(_chat_once(settings, message, terminal, stream_to_stdout=not as_json))
    if as_json:
        click.echo(json.dumps(result.summary(), ensure_ascii=False), file=terminal.out)
    else:
        click.echo("", file=terminal.out)
        click.echo(_footer(result), file=terminal.err)
    if load_error is not None:  # the same one line a bad model file always gave, after the answer
        click.echo(f"confidante: {load_error}", file=terminal.err)
        raise SystemExit(2)
    if result.outcome in ("error", "busy", "blocked", "over_budget"):
        raise SystemExit(1)


@dataclass(frozen=True)
class Terminal:
    """Where `chat` writes: its own copies of stdout and stderr, opened before anything loads.

    The local model loads in the background while the turn runs, and llama-cpp-python points the
    process's stdout and stderr (fds 1 and 2, and `sys.stdout`/`sys.stderr`) at /dev/null while it
    loads: an answer written through them then would be lost. A duplicated descriptor still reaches
    the terminal or pipe.
    """

    out: TextIO
    err: TextIO

    @classmethod
    def of_process(cls) -> Terminal:
        return cls(_own_copy(sys.stdout), _own_copy(sys.stderr))


def _own_copy(stream: TextIO) -> TextIO:
    try:
        fd = os.dup(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture): use it
        return stream
    return open(fd, "w", encoding=stream.encoding, errors=stream.errors or "strict", closefd=True)


def skip_final_collection_at_exit() -> None:
    """Let the process end as soon as the answer is out, without losing anything (issue 17).

    By the time the interpreter exits, `_chat_once` has closed and committed everything
    (`Services.aclose`: audit records, usage, MCP sessions, the local model's worker). What was
    left was CPython's last garbage collections walking the whole heap (spaCy, Presidio, the NER and
    embedding models' Python objects) only to free memory the OS takes back anyway: 1.4 s after a
    SmolLM2 answer, 3-4 s after a Qwen one at load 6 (bench/bench_cli_exit.py). Freezing the heap
    skips that walk; objects are still released by reference counting, and atexit handlers, thread
    joins and stdio flushes run as before. Frozen at exit, not now, so a process that goes on (a
    test calling the command) keeps collecting normally; registered once however often it is called.
    """
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


async def _chat_once(
    settings: Settings, message: str, terminal: Terminal, *, stream_to_stdout: bool
) -> tuple[TurnResult, str | None]:
    """The turn's result, and why the local model could not be loaded if it could not (issue 17:
    it loads in the background, so a question that does not need it does not wait for it)."""
    from assistant.services import build_services
    from knowledge.store import StoreInUse
    from models.files import ModelFileError

    def loading(text: str) -> None:
        click.echo(f"[loading] {text}", file=terminal.err)

    try:
        services = build_services(settings, on_local_wait=loading)
    except (ModelFileError, StoreInUse) as exc:  # through our copy: llama may have silenced fd 2
        click.echo(f"confidante: {exc}", file=terminal.err)
        raise SystemExit(2) from None
    conversation = Conversation(id=f"cli-{uuid.uuid4()}", principal=LOCAL_OPERATOR)
    result: TurnResult | None = None
    try:
        await _terminal_tools(services, terminal)
        async for event in services.pipeline.run(conversation, message):
            if isinstance(event, AnswerDelta) and stream_to_stdout:
                click.echo(event.text, nl=False, file=terminal.out)
            elif isinstance(event, Notice):
                click.echo(f"[{event.kind}] {event.text}", file=terminal.err)
            elif isinstance(event, TurnResult):
                result = event
    finally:
        load_error = _local_load_error(services)
        await services.aclose()  # kept MCP sessions too: their server processes exit with us
    assert result is not None
    return result, load_error


def _local_load_error(services: Services) -> str | None:
    """One sentence if the background load of the local model failed (a bad pin, a missing file)."""
    error = getattr(services.models.local, "load_error", None)
    if not isinstance(error, BaseException):
        return None
    return str(getattr(error, "detail", "") or error) or type(error).__name__


async def _terminal_tools(services: Services, terminal: Terminal) -> None:
    """Tool steps on stderr and confirmations at the terminal, as the UI shows them; the admin's
    HTTP and MCP tools as `serve` loads them (a malformed catalog: one line, exit 2)."""
    from assistant.tools.catalog import CatalogError
    from assistant.tools.terminal import TerminalConfirm, TerminalToolSteps
    from assistant.tools.wiring import extend_with_catalog

    tools = services.pipeline.services.tools
    if tools is None:
        return
    tools.show_with(TerminalToolSteps(terminal.err), TerminalConfirm(terminal.err))
    try:
        for problem in await extend_with_catalog(tools, services.settings):
            click.echo(f"confidante: {problem}; its tools are not offered", file=terminal.err)
    except CatalogError as exc:
        click.echo(f"confidante: {exc}", file=terminal.err)
        raise SystemExit(2) from None


def _footer(result: TurnResult) -> str:
    label = f"{result.route} · {result.model}" if result.model else result.outcome
    return f"— {label} · {result.latency_ms / 1000:.1f} s · tier {result.receipt.tier.value}"


@main.command()
def check() -> None:
    """Verify the settings and the bundled model files before serving."""
    from assistant.services import resolve_local_model
    from models.files import ModelFileError

    settings = settings_or_exit()
    if settings.models.local.server_url:
        local = settings.models.local
        click.echo(f"local model: {local.server_model} on a private server at {local.server_url}")
        path = None
    try:
        if not settings.models.local.server_url:
            path = resolve_local_model(settings.models.local, settings.data_dir)
    except ModelFileError as exc:
        click.echo(f"confidante: {exc}", err=True)
        raise SystemExit(2) from None
    if path is not None:
        click.echo(f"local model: {settings.models.local.name} ({path.name}, sha256 verified)")
    _check_token_ner(settings)
    hosted = settings.models.hosted
    if hosted.configured:
        click.echo(
            f"hosted model: {hosted.models.strong} / {hosted.models.cheap} "
            f"at {hosted.base_url or 'api.openai.com'}"
        )
    else:
        click.echo("hosted model: not configured (every answer stays on this machine)")
    click.echo(f"data directory: {settings.data_dir}")
    _hint_first_admin(settings)


def _check_token_ner(settings: Settings) -> None:
    """The gate's name and address classifier (Rampart ONNX) is installed and matches its pins."""
    from models.files import ModelFileError
    from routing.token_ner import verify_model_files

    if not settings.routing.token_ner_enabled:
        click.echo("name/address classifier: disabled (routing.token_ner_enabled = false)")
        return
    try:
        onnx_path, _ = verify_model_files(settings.routing)
    except ModelFileError as exc:
        click.echo(f"confidante: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(f"name/address classifier: Rampart ({onnx_path.name}, sha256 verified)")


def _hint_first_admin(settings: Settings) -> None:
    """Sign-in is required: a fresh install has nobody who could sign in yet."""
    from assistant.governance.accounts import Accounts
    from assistant.governance.db import open_database

    engine = open_database(settings.governance, settings.data_dir)
    try:
        users = Accounts(engine, settings.governance.passwords).list_users()
    finally:
        engine.dispose()
    if not any(user.role == "admin" and not user.disabled for user in users):
        click.echo(
            "accounts: no admin yet; the app prints a one-time setup link to create one in the browser\n"
            "    (or: .venv/bin/confidante users add YOUR_NAME --admin)"
        )
    else:
        click.echo(f"accounts: {len(users)} ({sum(u.role == 'admin' for u in users)} admin)")


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default from settings).")
@click.option("--port", type=int, default=None, help="Port (default from settings).")
def serve(host: str | None, port: int | None) -> None:
    """Start the web app (Chainlit)."""
    from assistant.webapp import exec_chainlit

    settings = settings_or_exit()
    exec_chainlit(settings, host=host or settings.server.host, port=port or settings.server.port)


@main.group("eval")
def evaluate() -> None:
    """Evaluations on the shared data sets (PII, retrieval, prompt injection)."""


def _register() -> None:
    """Subcommands live next to the packages they drive."""
    from assistant.api.cli import keys
    from assistant.experiments.cli import eval_replay, experiments
    from assistant.governance.cli import audit, groups, users
    from assistant.security.cli import audit_deps, eval_injection
    from assistant.worker_cli import worker
    from knowledge.cli import docs, eval_rag, ingest, search
    from routing.cli import classify_command, eval_pii_command, eval_sensitivity_command

    for command in (classify_command, ingest, docs, search, users, groups, keys, audit, audit_deps):
        main.add_command(command)
    main.add_command(experiments)
    main.add_command(worker)
    evaluate.add_command(eval_replay, "replay")
    evaluate.add_command(eval_pii_command, "pii")
    evaluate.add_command(eval_sensitivity_command, "sensitivity")
    evaluate.add_command(eval_rag, "rag")
    evaluate.add_command(eval_injection, "injection")


_register()


def run() -> None:
    """The console script: known failures end in one line (exit 2), never a traceback."""
    from knowledge.store import StoreInUse
    from models.files import ModelFileError

    try:
        main()
    except (StoreInUse, ModelFileError, SettingsError) as exc:
        click.echo(f"confidante: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    run()
