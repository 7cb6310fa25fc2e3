"""Summary model calls are governed like chat calls: audited with their tokens and cost, charged to
the uploader's budget, shown on the dashboard; and a user over budget cannot start a summary.

Real governance (migrated SQLite, audit chain, budgets, metrics) and the real worker; the models
are scripted (logic under test: accounting), so the figures do not depend on what a model writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.governance.component import Governance, build_governance
from assistant.governance.dashboard_data import compute_figures
from assistant.identity import Principal
from assistant.pipeline import ModelSet
from assistant.settings import Settings
from assistant.turn_records import GovernanceBudgets, GovernanceRecorder
from assistant.uploads.jobs import JobStore
from assistant.uploads.runner import SummaryJobRunner
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging
from assistant.uploads.worker import SummaryWorker
from models.fakes import FunctionModel
from tests.test_jobs_worker import Events, queue_job
from tests.test_summarize_logic import KeywordPrivacy, echo_points


@pytest.fixture
def governance(tmp_path: Path) -> Iterator[Governance]:
    governance = build_governance(Settings(data_dir=tmp_path).governance, tmp_path)
    yield governance
    governance.close()


def make_worker(
    governance: Governance, tmp_path: Path, models: ModelSet
) -> tuple[SummaryWorker, JobStore, Staging]:
    settings = Settings(data_dir=tmp_path)
    uploads = UploadSettings(structured_reasks=0, progress_interval_s=0.2, poll_interval_s=0.05)
    store, staging = JobStore(governance.engine), Staging(tmp_path / "uploads")
    runner = SummaryJobRunner(
        store=store,
        staging=staging,
        models=models,
        privacy=KeywordPrivacy(),
        index=None,
        settings=uploads,
        on_call=GovernanceRecorder(governance, settings).on_upload_call,
        budgets=GovernanceBudgets(governance),
    )
    return SummaryWorker(store, runner, staging, uploads, Events()), store, staging


def scripted_models() -> tuple[ModelSet, FunctionModel, FunctionModel]:
    local = FunctionModel(echo_points, name="local-fake", kind="local")
    hosted = FunctionModel(echo_points, name="gpt-4o", kind="hosted")  # priced in the settings
    return ModelSet(local=local, hosted=[hosted]), local, hosted


async def run_one_job(worker: SummaryWorker, store: JobStore, staging: Staging) -> str:
    job = queue_job(store, staging, 4)
    await worker.start()
    try:
        done = await worker.wait_for(job.id, 30)
    finally:
        await worker.stop()
    return f"{done.status}: {done.error or ''}"


async def test_summary_tokens_reach_the_audit_trail_the_budget_and_the_dashboard(
    governance: Governance, tmp_path: Path
) -> None:
    models, _local, hosted = scripted_models()
    worker, store, staging = make_worker(governance, tmp_path, models)

    assert (await run_one_job(worker, store, staging)).startswith("done")

    calls = [r for r in governance.audit.records() if r.kind == "model_call"]
    assert calls and all(r.user_id == "alice" and r.thread_id == "t1" for r in calls)
    assert any(r.model == "gpt-4o" for r in calls) and hosted.requests
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in calls)
    cost = sum(r.cost_usd for r in calls)
    assert tokens > 0 and cost > 0
    assert governance.audit.verify().ok

    status = governance.budgets.check(Principal(user_id="alice"))
    assert status.tokens_used == tokens
    assert status.cost_used_usd == pytest.approx(cost)

    figures = compute_figures(governance.engine)
    assert sum(figures.tokens_per_day["prompt"]) + sum(figures.tokens_per_day["completion"]) == tokens
    assert sum(figures.cost_per_day) == pytest.approx(cost)
    assert figures.model_calls == len(calls)
    assert 'route="hosted"' in governance.telemetry.exposition().decode()


async def test_a_user_over_budget_cannot_start_a_summary(governance: Governance, tmp_path: Path) -> None:
    governance.budgets.set_override(user_id="alice", daily_tokens=0, daily_cost_usd=None, set_by="admin")
    models, local, hosted = scripted_models()
    worker, store, staging = make_worker(governance, tmp_path, models)

    outcome = await run_one_job(worker, store, staging)

    assert outcome.startswith("failed: You have reached your daily token budget"), outcome
    assert not local.requests and not hosted.requests
    assert not [r for r in governance.audit.records() if r.kind == "model_call"]


async def test_another_users_budget_does_not_stop_this_summary(
    governance: Governance, tmp_path: Path
) -> None:
    governance.budgets.set_override(user_id="bob", daily_tokens=0, daily_cost_usd=None, set_by="admin")
    models, _local, _hosted = scripted_models()
    worker, store, staging = make_worker(governance, tmp_path, models)

    assert (await run_one_job(worker, store, staging)).startswith("done")
