"""`eval replay`: a question file through each variant with the real pipeline and governance and
a scripted model; nothing lands in a user's history, no ticket is opened, the audit says replay.
And the admin CLI that defines the experiment it replays."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from assistant.cli import main
from assistant.experiments.prompts import CONCISE
from assistant.experiments.replay import read_questions, replay
from assistant.experiments.report import text_table
from assistant.experiments.store import ExperimentStore
from assistant.governance.tables import AuditRow, ChatThread, EscalationRow, ExperimentTurnRow
from assistant.pipeline import ModelSet
from assistant.services import build_services
from assistant.settings import Settings
from models.base import ChatRequest
from models.fakes import FunctionModel
from tests.support.privacy import ScriptedPrivacy

QUESTIONS = [
    {"question": "How do I book a meeting room?", "follow_ups": ["No, I meant how to book a meeting room"]},
    {"question": "I want to talk to a person"},
    {"question": "Draft a short note to my team"},
]


def _answer(request: ChatRequest) -> str:
    concise = request.messages[0].content.endswith(CONCISE)
    return "Short." if concise else "A much longer answer with many more words in it than the short one."


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("CONFIDANTE_DATA_DIR", str(directory))
    return directory


def test_admin_cli_creates_lists_and_stops_an_experiment(data_dir: Path) -> None:
    runner = CliRunner()
    create = ["experiments", "create", "prompt-ab", "--variant", "control:0.5"]
    created = runner.invoke(main, [*create, "--variant", "concise:0.5:prompt=chat-v2-concise,k=3"])
    assert created.exit_code == 0, created.output
    assert (
        "prompt-ab  running  chat" in created.output
        and "concise 50% (chat-v2-concise, k=3)" in created.output
    )
    refused = runner.invoke(main, ["experiments", "create", "x", "--variant", "a:0.5", "--variant", "b:0.6"])
    assert refused.exit_code != 0 and "add up to 1" in refused.output
    hosted = runner.invoke(main, ["experiments", "create", "y", "--variant", "a:0.5:route=hosted"])
    assert hosted.exit_code != 0 and "unknown variant setting 'route'" in hosted.output
    assert "prompt-ab" in runner.invoke(main, ["experiments", "list"]).output
    stopped = runner.invoke(main, ["experiments", "stop", "prompt-ab"])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    shown = runner.invoke(main, ["experiments", "show", "prompt-ab"])
    assert shown.exit_code == 0 and "not enough data yet (n=0)" in shown.output


def test_replay_runs_each_variant_without_touching_users(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=data_dir)
    settings.knowledge.enabled = False
    model = FunctionModel(_answer)
    services = build_services(settings, models=ModelSet(local=model), privacy=ScriptedPrivacy())
    assert services.governance is not None
    engine = services.governance.engine
    store = ExperimentStore(engine)
    from assistant.experiments.models import ExperimentSpec, Variant

    experiment = store.create(
        ExperimentSpec(
            id="prompt-ab",
            capability="chat",
            variants=(
                Variant(name="control", share=0.5),
                Variant(name="concise", share=0.5, prompt_template="chat-v2-concise"),
            ),
        ),
        created_by="admin",
    )
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n", encoding="utf-8")
    try:
        metrics = asyncio.run(
            replay(services, experiment, ["control", "concise"], read_questions(path), store=store, min_n=1)
        )
    finally:
        services.close()
    control, concise = metrics
    assert control.turns == concise.turns == 4
    # The scripted model answers each variant differently, and the figures say so.
    assert concise.tokens_per_query.value is not None and control.tokens_per_query.value is not None
    assert concise.tokens_per_query.value < control.tokens_per_query.value
    assert control.correction_rate.value == 1.0 and control.correction_rate.n == 1  # the rephrase
    assert control.escalation_rate.value == 0.25  # "talk to a person" is counted, not ticketed
    table = text_table(metrics)
    assert "control (4 turns)" in table and "concise (4 turns)" in table and "Latency p95" in table
    with Session(engine) as session:
        decisions = session.exec(select(AuditRow).where(AuditRow.kind == "routing_decision")).all()
        threads = session.exec(select(ChatThread)).all()
        tickets = session.exec(select(EscalationRow)).all()
        rows = session.exec(select(ExperimentTurnRow)).all()
    assert len(decisions) == 8 and all(d.user_id == "replay" for d in decisions)
    assert all(re.search(r"; variant prompt-ab/\w+; replay(;|$)", d.detail or "") for d in decisions)
    assert threads == [] and tickets == []
    assert len(rows) == 8 and all(row.replay for row in rows)
    assert ExperimentStore(engine).turn_facts("prompt-ab") == []  # live figures are not mixed with replay


def test_eval_replay_command_with_the_bundled_model(data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The command end to end on the real small local model: only the shape of what it prints is
    asserted (what a real model writes is not)."""
    monkeypatch.setenv("CONFIDANTE_KNOWLEDGE__ENABLED", "false")
    monkeypatch.setenv("CONFIDANTE_MODELS__LOCAL__MAX_TOKENS", "8")
    runner = CliRunner()
    created = runner.invoke(
        main,
        ["experiments", "create", "ab", "--variant", "a:0.5", "--variant", "b:0.5:prompt=chat-v2-concise"],
    )
    assert created.exit_code == 0, created.output
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Say hello"}\n{"question": "Name a colour"}\n', encoding="utf-8")
    result = runner.invoke(main, ["eval", "replay", str(path), "--variants", "a,b", "--min-n", "2"])
    assert result.exit_code == 0, result.output
    assert "experiment ab (chat), replay of q.jsonl" in result.output
    assert re.search(r"a \(2 turns\)\s+b \(2 turns\)", result.output)
    assert re.search(r"Tokens per query\s+\d+ \(\d+–\d+, n=2\)\s+\d+ \(\d+–\d+, n=2\)", result.output)
    missing = runner.invoke(main, ["eval", "replay", str(path), "--variants", "a,zzz"])
    assert missing.exit_code != 0 and "No experiment has the variants a, zzz" in missing.output
