"""Experiments in a real database: the migration, define/list/stop, and the acceptance run —
two prompt variants at 50/50, scripted traffic with thumbs through the real pipeline and
governance, the figures per variant with intervals, and the console page that shows them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import inspect
from sqlmodel import Session, select

from assistant.experiments.metrics import compare
from assistant.experiments.models import ExperimentSpec, Variant
from assistant.experiments.prompts import CONCISE
from assistant.experiments.store import ExperimentError, ExperimentStore
from assistant.governance.db import alembic_config, create_db_engine, migrate
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from assistant.governance.tables import AuditRow
from assistant.identity import Principal
from assistant.pipeline import ModelSet
from assistant.services import Services, build_services
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from models.base import ChatRequest
from models.fakes import FunctionModel
from tests.support.console_server import console_server, session_cookie
from tests.support.privacy import ScriptedPrivacy

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)
USERS = 48
TURNS_PER_USER = 3


def prompt_ab() -> ExperimentSpec:
    return ExperimentSpec(
        id="prompt-ab",
        capability="chat",
        variants=(
            Variant(name="control", share=0.5),
            Variant(name="concise", share=0.5, prompt_template="chat-v2-concise"),
        ),
    )


def test_the_migration_adds_and_removes_the_tables(tmp_path: Path) -> None:
    engine = create_db_engine(GovernanceSettings(), tmp_path)
    migrate(engine)
    assert {"experiments", "experiment_turns"} <= set(inspect(engine).get_table_names())
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004_api_keys")
    assert not {"experiments", "experiment_turns"} & set(inspect(engine).get_table_names())
    migrate(engine)
    assert {"experiments", "experiment_turns"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_define_list_and_stop(tmp_path: Path) -> None:
    engine = create_db_engine(GovernanceSettings(), tmp_path)
    migrate(engine)
    store = ExperimentStore(engine)
    created = store.create(prompt_ab(), created_by="admin")
    assert created.status == "running" and store.running("chat") == created
    with pytest.raises(ExperimentError, match="already exists"):
        store.create(prompt_ab(), created_by="admin")
    other = prompt_ab().model_copy(update={"id": "second"})
    with pytest.raises(ExperimentError, match="Stop the running chat experiment"):
        store.create(other, created_by="admin")
    assert store.variant_for("alice", "chat") is not None and store.variant_for("alice", "summaries") is None
    stopped = store.stop("prompt-ab", by="admin")
    assert stopped.status == "stopped" and stopped.stopped_at is not None
    assert store.running("chat") is None and store.variant_for("alice", "chat") is None
    assert [e.id for e in store.experiments()] == ["prompt-ab"]
    engine.dispose()


# --- the acceptance run --------------------------------------------------------------------------


def _answer(request: ChatRequest) -> str:
    """A scripted model whose answers differ by the prompt it was given."""
    concise = request.messages[0].content.endswith(CONCISE)
    return "Short answer." if concise else "A longer answer that explains everything in detail."


def _thumbs(variant: str, user_index: int, turn: int) -> int | None:
    """Scripted users: concise answers get more thumbs up; some turns get no thumbs at all."""
    if turn == 2 and user_index % 2:
        return None
    if variant == "concise":
        return 0 if (user_index + turn) % 4 == 0 else 1
    return 1 if (user_index + turn) % 2 == 0 else 0


def _chainlit_now() -> str:
    from chainlit.utils import utc_now

    return str(utc_now())


async def _scripted_traffic(services: Services) -> None:
    assert services.governance is not None
    history = services.governance.history
    questions = [
        "How do I book a meeting room?",
        "Can I book one for a whole day?",
        "Thanks, who approves it?",
    ]
    for index in range(USERS):
        user = f"user-{index:02d}"
        conversation = Conversation(id=f"thread-{user}", principal=Principal(user_id=user))
        for turn, question in enumerate(questions[:TURNS_PER_USER]):
            result = [e async for e in services.pipeline.run(conversation, question)][-1]
            assert isinstance(result, TurnResult) and result.variant is not None
            # What the UI does: the answer message is stored when sent, then the user clicks a thumb.
            step_id = f"{user}-step-{turn}"
            stored = {"id": step_id, "threadId": conversation.id, "type": "assistant_message"}
            assert history.upsert_step(stored | {"createdAt": _chainlit_now()}, user)
            thumbs = _thumbs(result.variant.variant.name, index, turn)
            if thumbs is not None:
                history.upsert_feedback(
                    step_id=step_id, value=thumbs, comment=None, requester=user, feedback_id=None
                )


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("experiments"))
    settings.knowledge.enabled = False
    settings.reliability.cache_enabled = False
    settings.governance.passwords = FAST
    services = build_services(
        settings, models=ModelSet(local=FunctionModel(_answer)), privacy=ScriptedPrivacy()
    )
    assert services.governance is not None
    ExperimentStore(services.governance.engine).create(prompt_ab(), created_by="admin")
    import asyncio

    asyncio.run(_scripted_traffic(services))
    yield services
    services.close()


def test_scripted_traffic_gives_both_variants_their_figures_with_intervals(traffic: Services) -> None:
    assert traffic.governance is not None
    store = ExperimentStore(traffic.governance.engine)
    facts = store.turn_facts("prompt-ab")
    assert len(facts) == USERS * TURNS_PER_USER
    control, concise = compare(facts, ["control", "concise"])
    assert control.turns + concise.turns == USERS * TURNS_PER_USER and min(control.turns, concise.turns) >= 45
    for metrics in (control, concise):
        for estimate in (metrics.satisfaction, metrics.task_completion, metrics.escalation_rate):
            assert estimate.value is not None and estimate.low is not None and estimate.high is not None
            assert estimate.low <= estimate.value <= estimate.high
        assert metrics.latency_p50_ms.value is not None
        assert metrics.latency_p99_ms.value is None  # p99 needs 500 turns: said, not guessed
    # Every thumb was joined to the turn it was given on: the satisfaction n is the thumbs count.
    thumbed = sum(1 for f in facts if f.thumbs is not None)
    assert control.satisfaction.n + concise.satisfaction.n == thumbed == USERS * TURNS_PER_USER - USERS // 2
    # The scripted users liked the concise answers more (3 in 4 against 1 in 2).
    assert concise.satisfaction.value is not None and control.satisfaction.value is not None
    assert concise.satisfaction.value > control.satisfaction.value


def test_every_turns_audit_record_names_its_variant(traffic: Services) -> None:
    assert traffic.governance is not None
    with Session(traffic.governance.engine) as session:
        decisions = session.exec(select(AuditRow).where(AuditRow.kind == "routing_decision")).all()
    assert len(decisions) == USERS * TURNS_PER_USER
    # The detail goes on after the variant (where the turn's time went): match up to the next ";".
    assert all(re.search(r"; variant prompt-ab/(control|concise)(;|$)", d.detail or "") for d in decisions)
    concise = [d for d in decisions if "; variant prompt-ab/concise" in (d.detail or "")]
    assert concise and all(d.prompt_template_version == "chat-v2-concise" for d in concise)


@pytest.fixture(scope="module")
def console(traffic: Services) -> Iterator[str]:
    governance = traffic.governance
    assert governance is not None
    governance.accounts.add_user(username="admin", password="admin password", role="admin")
    governance.accounts.add_user(username="alice", password="alice password")
    with console_server(governance, "experiments") as url:
        yield url


def cookie(username: str) -> dict[str, str]:
    return session_cookie(username, metadata={})


def test_the_console_shows_both_variants_with_their_intervals(console: str) -> None:
    page = httpx.get(f"{console}/admin/experiments/prompt-ab", cookies=cookie("admin"))
    assert page.status_code == 200 and "<script" not in page.text.lower()
    html = page.text
    assert re.search(r"control \(\d+ turns\)", html) and re.search(r"concise \(\d+ turns\)", html)
    row = re.search(r"Satisfaction \(thumbs up\)</th>(.*?)</tr>", html)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    # Two cells, each a rate with its 95 % interval and n.
    assert len(cells) == 2 and all(re.fullmatch(r"[\d.]+% \([\d.]+%–[\d.]+%, n=\d+\)", c) for c in cells)
    assert "Latency p99" in html and "not enough data yet" in html


def test_console_refuses_visitors_and_forms_without_the_token(console: str, traffic: Services) -> None:
    assert httpx.get(f"{console}/admin/experiments").status_code == 401
    assert httpx.get(f"{console}/admin/experiments", cookies=cookie("alice")).status_code == 403
    refused = httpx.post(f"{console}/admin/experiments/prompt-ab/stop", cookies=cookie("admin"))
    assert refused.status_code == 403
    assert traffic.governance is not None
    assert ExperimentStore(traffic.governance.engine).running("chat") is not None


def test_admin_creates_and_stops_experiments_from_the_console(console: str, traffic: Services) -> None:
    admin = cookie("admin")
    dashboard = httpx.get(f"{console}/admin/dashboard", cookies=admin)
    assert 'href="/admin/experiments"' in dashboard.text
    listing = httpx.get(f"{console}/admin/experiments", cookies=admin)
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing.text)
    assert listing.status_code == 200 and token is not None and "prompt-ab" in listing.text
    form = {"csrf_token": token.group(1), "capability": "document_qa", "experiment_id": "k-test"}
    bad = httpx.post(f"{console}/admin/experiments", cookies=admin, data=form | {"variants": "a:0.5\nb:0.4"})
    assert bad.status_code == 400 and "add up to 1" in bad.text
    good = httpx.post(
        f"{console}/admin/experiments",
        cookies=admin,
        data=form | {"variants": "k5:0.5\nk3:0.5:k=3,rerank=off"},
        headers={"Origin": "null"},  # what Chromium sends under Referrer-Policy: no-referrer
    )
    assert good.status_code == 303 and good.headers["location"] == "/admin/experiments/k-test"
    assert traffic.governance is not None
    store = ExperimentStore(traffic.governance.engine)
    created = store.get("k-test")
    assert (
        created is not None
        and created.variant("k3").retrieval_k == 3
        and created.variant("k3").rerank is False
    )
    stop = httpx.post(
        f"{console}/admin/experiments/k-test/stop", cookies=admin, data={"csrf_token": token.group(1)}
    )
    assert stop.status_code == 303 and store.running("document_qa") is None


def test_thumbs_belong_to_the_turn_whose_answer_they_rate(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from assistant.governance.chat_history import ChatHistory
    from assistant.governance.tables import ExperimentTurnRow

    engine = create_db_engine(GovernanceSettings(), tmp_path)
    migrate(engine)
    store, history = ExperimentStore(engine), ChatHistory(engine)
    store.create(prompt_ab(), created_by="admin")
    start = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

    def turn(second: int) -> None:
        begun = start + timedelta(seconds=second)
        store.record_turn(
            ExperimentTurnRow(
                experiment_id="prompt-ab", variant="control", user_id="u", thread_id="t", started_at=begun,
                ended_at=begun + timedelta(seconds=2), outcome="ok",
            )
        )  # fmt: skip

    def rate(step: str, second: int, value: int) -> None:
        stamp = (start + timedelta(seconds=second)).replace(tzinfo=None).isoformat() + "Z"
        assert history.upsert_step({"id": step, "threadId": "t", "createdAt": stamp}, "u")
        history.upsert_feedback(step_id=step, value=value, comment=None, requester="u", feedback_id=None)

    turn(0)
    turn(10)
    rate("answer-1", 2, 0)  # stamped when the first answer was sent
    rate("answer-2", 11, 1)  # stamped while the second answer streamed
    rate("later", 300, 1)  # an answer long after the last recorded turn (experiment stopped): no one's
    rate("before", -60, 1)  # an answer from before the experiment: no one's
    assert [f.thumbs for f in store.turn_facts("prompt-ab")] == [0, 1]
    engine.dispose()
