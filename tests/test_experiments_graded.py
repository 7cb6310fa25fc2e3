"""Graded accuracy per variant (issue 18): scripted traffic through the real pipeline under a 50/50
experiment, every answer sampled for review, reviewers grade them; the grades are joined to each
turn's variant and shown on the experiments page and by `confidante experiments show`, with a
Wilson interval, and "not enough data yet" below the minimum n."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from assistant.experiments.cli import experiments as experiments_cli
from assistant.experiments.metrics import wilson
from assistant.experiments.models import ExperimentSpec, Variant
from assistant.experiments.prompts import CONCISE
from assistant.experiments.report import format_estimate
from assistant.experiments.store import ExperimentStore
from assistant.governance.component import Governance
from assistant.governance.tables import ExperimentTurnRow
from assistant.identity import Principal
from assistant.pipeline import ModelSet
from assistant.review.accuracy import graded_accuracy_by_variant
from assistant.review.models import ReviewSettings
from assistant.review.queue import ReviewQueue
from assistant.review.table import ReviewItemRow
from assistant.services import Services, build_services
from assistant.turns import Conversation, TurnResult
from models.base import ChatRequest
from models.fakes import FunctionModel
from tests.support.experiment_kit import traffic_settings
from tests.support.privacy import ScriptedPrivacy
from tests.test_dashboard import server, session_cookie  # noqa: F401

USERS = 64
SECRET = "My SSN is 078-05-1120, how many leave days do I have left?"
REVIEWER = Principal(user_id="cora", groups=frozenset({"compliance"}))


def _answer(request: ChatRequest) -> str:
    concise = request.messages[0].content.endswith(CONCISE)
    return "Short answer." if concise else "A longer answer that explains everything in detail."


def _grade(item: ReviewItemRow) -> str:
    """A scripted reviewer: grades by what it sees (the answer), with a fixed pattern per item."""
    assert item.id is not None
    if item.answer == "Short answer.":
        return "correct" if item.id % 4 else "partly"
    return ("correct", "wrong", "partly")[item.id % 3]


async def _traffic(services: Services) -> None:
    for index in range(USERS):
        user = f"user-{index:02d}"
        conversation = Conversation(id=f"thread-{user}", principal=Principal(user_id=user))
        question = SECRET if index == 0 else "How do I book a meeting room?"
        result = [e async for e in services.pipeline.run(conversation, question)][-1]
        assert isinstance(result, TurnResult) and result.variant is not None


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    settings = traffic_settings(tmp_path_factory.mktemp("graded"))
    settings.review = ReviewSettings(share={"chat": 1.0})
    services = build_services(
        settings, models=ModelSet(local=FunctionModel(_answer)), privacy=ScriptedPrivacy()
    )
    assert services.governance is not None
    spec = ExperimentSpec(
        id="prompt-ab",
        capability="chat",
        variants=(
            Variant(name="control", share=0.5),
            Variant(name="concise", share=0.5, prompt_template="chat-v2-concise"),
        ),
    )
    ExperimentStore(services.governance.engine).create(spec, created_by="admin")
    asyncio.run(_traffic(services))
    queue = ReviewQueue(services.governance.engine, ReviewSettings(share={"chat": 1.0}))
    with Session(services.governance.engine) as session:
        items = session.exec(select(ReviewItemRow)).all()
    for item in items:
        assert item.id is not None
        queue.grade(item.id, REVIEWER, _grade(item), "scripted note 078-05-1120")
    yield services
    services.close()


@pytest.fixture(scope="module")
def governance(traffic: Services) -> Governance:
    """The console server (`tests.test_dashboard.server`) over the traffic's database."""
    assert traffic.governance is not None
    traffic.governance.accounts.add_user(username="admin", password="admin password", role="admin")
    return traffic.governance


def _expected(services: Services) -> dict[str, Counter[str]]:
    """Grades per variant, joined by thread from the experiment's own turn records."""
    assert services.governance is not None
    with Session(services.governance.engine) as session:
        variant_of = {t.thread_id: t.variant for t in session.exec(select(ExperimentTurnRow)).all()}
        items = session.exec(select(ReviewItemRow)).all()
    grades: dict[str, Counter[str]] = {}
    for item in items:
        assert item.thread_id is not None and item.variant == variant_of[item.thread_id]
        grades.setdefault(variant_of[item.thread_id], Counter())[item.grade or ""] += 1
    return grades


def test_grades_are_joined_to_each_turns_variant(traffic: Services) -> None:
    assert traffic.governance is not None
    expected = _expected(traffic)
    assert sum(sum(c.values()) for c in expected.values()) == USERS  # every answer was sampled and graded
    accuracy = graded_accuracy_by_variant(traffic.governance.engine, "prompt-ab")
    assert set(accuracy) == {"control", "concise"}
    for name, counts in expected.items():
        figure = accuracy[name]
        assert (figure.correct, figure.partly, figure.wrong) == (
            counts["correct"],
            counts["partly"],
            counts["wrong"],
        )
        assert figure.graded >= 20 and figure.accuracy == wilson(counts["correct"], figure.graded)
        assert figure.accuracy.low is not None and figure.accuracy.high is not None
    # The scripted reviewer graded the concise answers better: the figures say so.
    assert (accuracy["concise"].accuracy.value or 0) > (accuracy["control"].accuracy.value or 1)


def test_experiments_show_prints_graded_accuracy_with_its_interval(traffic: Services) -> None:
    assert traffic.governance is not None
    accuracy = graded_accuracy_by_variant(traffic.governance.engine, "prompt-ab")
    runner = CliRunner()
    obj = {"settings": traffic.settings}
    shown = runner.invoke(experiments_cli, ["show", "prompt-ab"], obj=obj)
    assert shown.exit_code == 0, shown.output
    line = next(line for line in shown.output.splitlines() if line.startswith("Graded accuracy"))
    for name in ("control", "concise"):
        assert format_estimate(accuracy[name].accuracy, "rate") in line
    assert re.search(r"Graded correct / partly / wrong\s+\d+ / \d+ / \d+\s+\d+ / \d+ / \d+", shown.output)
    assert "078-05-1120" not in shown.output and "scripted note" not in shown.output
    few = runner.invoke(experiments_cli, ["show", "prompt-ab", "--min-n", "1000"], obj=obj)
    line = next(line for line in few.output.splitlines() if line.startswith("Graded accuracy"))
    assert line.count("not enough data yet") == 2


def test_the_experiments_page_shows_graded_accuracy(server: str, traffic: Services) -> None:  # noqa: F811
    assert traffic.governance is not None
    accuracy = graded_accuracy_by_variant(traffic.governance.engine, "prompt-ab")
    page = httpx.get(f"{server}/admin/experiments/prompt-ab", cookies=session_cookie("admin"))
    assert page.status_code == 200
    row = re.search(r"Graded accuracy \(human review\)</th>(.*?)</tr>", page.text)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    order = re.findall(r'<th scope="col">(\w+) \(', page.text)
    assert cells == [format_estimate(accuracy[name].accuracy, "rate") for name in order]
    assert all(re.fullmatch(r"[\d.]+% \([\d.]+%–[\d.]+%, n=\d+\)", c) for c in cells)
    # Counts only: no question, answer, note or value of a graded item reaches this page.
    assert "078-05-1120" not in page.text and "scripted note" not in page.text


def test_a_variant_without_grades_says_not_enough_data() -> None:
    from assistant.experiments.metrics import compare
    from assistant.ui.experiments_console import render_comparison

    spec = ExperimentSpec(
        id="x", capability="chat", variants=(Variant(name="a", share=0.5), Variant(name="b", share=0.5))
    )
    from datetime import UTC, datetime

    from assistant.experiments.models import Experiment

    experiment = Experiment(**spec.model_dump(), created_at=datetime.now(UTC))
    html = render_comparison(experiment, compare([], ["a", "b"]), {})
    row = re.search(r"Graded accuracy \(human review\)</th>(.*?)</tr>", html)
    assert (
        row is not None and re.findall(r"<td>(.*?)</td>", row.group(1)) == ["not enough data yet (n=0)"] * 2
    )
