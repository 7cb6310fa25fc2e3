"""Summaries in experiments (issue 18), with scripted models and real governance: the uploader's
sticky variant sets the map prompt version and the batch size, every model call's audit record
names the variant, each job is one experiment turn with its cost, tokens, model calls and map
steps, and no variant sends a regulated page to the hosted model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from assistant.experiments.metrics import compare
from assistant.experiments.models import ExperimentSpec, Variant
from assistant.experiments.prompts import MAP_PROMPTS
from assistant.experiments.report import SUMMARY_ROWS, text_table
from assistant.experiments.store import ExperimentStore
from assistant.governance.component import Governance, build_governance
from assistant.governance.tables import AuditRow
from assistant.pipeline import ModelSet
from assistant.settings import Settings
from assistant.turn_records import GovernanceRecorder
from assistant.uploads.jobs import JobStore
from assistant.uploads.runner import SummaryJobRunner
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import StagedDocument, Staging
from knowledge.parsing.documents import ParsedDocument
from models.fakes import FunctionModel
from routing.tiers import Tier
from tests.test_summarize_logic import PAGES, KeywordPrivacy, echo_points, sections

OWNERS = 12
# Three public pages in a row (the default batch size puts them in one map step), then one
# public, one internal and one regulated page.
PUBLIC_PAGES = [PAGES[0].replace("March", month) for month in ("April", "May", "June")]
BASE = MAP_PROMPTS["map-v1"].split("{")[0]  # "List up to "
FACTS = "facts a reader must not miss"


def summaries_ab() -> ExperimentSpec:
    return ExperimentSpec(
        id="summary-ab",
        capability="summaries",
        variants=(
            Variant(name="batched", share=0.5),
            Variant(name="facts", share=0.5, map_prompt="map-v2-facts", batch_map_tokens=0),
        ),
    )


def document() -> StagedDocument:
    parsed = ParsedDocument(
        title="Aurora", kind="pdf", display_name="aurora.pdf", sha256="0" * 64, size_bytes=1000,
        sections=tuple(sections(PUBLIC_PAGES + PAGES)), page_count=len(PUBLIC_PAGES + PAGES),
    )  # fmt: skip
    privacy = KeywordPrivacy()
    tiers = tuple(privacy.assess(s.text, source="upload").tier for s in parsed.sections)
    assert Tier.REGULATED in tiers and Tier.PUBLIC in tiers
    return StagedDocument(parsed=parsed, section_tiers=tiers, meta_tier=Tier.PUBLIC)


async def _no_progress(done: int, total: int, label: str) -> None:
    return None


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Governance, FunctionModel, FunctionModel]]:
    data_dir: Path = tmp_path_factory.mktemp("summary-ab")
    governance = build_governance(Settings(data_dir=data_dir).governance, data_dir)
    ExperimentStore(governance.engine).create(summaries_ab(), created_by="admin")
    local = FunctionModel(echo_points, name="local-fake", kind="local")  # type: ignore[arg-type]
    hosted = FunctionModel(echo_points, name="gpt-4o", kind="hosted")  # type: ignore[arg-type]
    store, staging = JobStore(governance.engine), Staging(data_dir / "uploads")
    runner = SummaryJobRunner(
        store=store,
        staging=staging,
        models=ModelSet(local=local, hosted=[hosted]),
        privacy=KeywordPrivacy(),
        index=None,
        settings=UploadSettings(structured_reasks=0),
        on_call=GovernanceRecorder(governance, Settings(data_dir=data_dir)).on_upload_call,
    )
    for index in range(OWNERS):
        job = store.create(
            owner=f"user-{index:02d}", thread_id=f"thread-{index:02d}", display_name="aurora.pdf",
            tier="public", page_count=6, total=6,
        )  # fmt: skip
        staging.save(job.id, document())
        asyncio.run(runner.run(job, _no_progress))
    yield governance, local, hosted
    governance.close()


def _arm(governance: Governance, owner: str) -> str:
    chosen = ExperimentStore(governance.engine).variant_for(owner, "summaries")
    assert chosen is not None
    return chosen.variant.name


def test_the_variant_sets_the_map_prompt_and_every_call_names_it(world) -> None:  # type: ignore[no-untyped-def]
    governance, local, hosted = world
    arms = {f"thread-{i:02d}": _arm(governance, f"user-{i:02d}") for i in range(OWNERS)}
    assert set(arms.values()) == {"batched", "facts"}
    with Session(governance.engine) as session:
        calls = session.exec(select(AuditRow).where(AuditRow.kind == "model_call")).all()
    assert calls
    for call in calls:
        arm = arms[call.thread_id or ""]
        version = call.prompt_template_version or ""
        assert version.startswith("upload-summary/") and version.endswith(f"@{arm}") and len(version) <= 64
    maps = [r for m in (local, hosted) for r in m.requests if "<document>" in r.messages[-1].content]
    asked = [r.messages[-1].content for r in maps]
    assert any(FACTS in a for a in asked) and any(FACTS not in a and BASE in a for a in asked)
    assert all(r.messages[0].content.startswith("You write short, factual summaries.") for r in maps)
    assert governance.audit.verify().ok


def test_no_variant_sends_a_regulated_page_to_the_hosted_model(world) -> None:  # type: ignore[no-untyped-def]
    _governance, local, hosted = world
    assert hosted.requests and "078-05-1120" not in "".join(
        m.content for r in hosted.requests for m in r.messages
    )
    assert "078-05-1120" in "".join(m.content for r in local.requests for m in r.messages)


def test_each_job_is_an_experiment_turn_with_its_figures(world) -> None:  # type: ignore[no-untyped-def]
    governance, _local, _hosted = world
    facts = ExperimentStore(governance.engine).turn_facts("summary-ab")
    assert len(facts) == OWNERS and all(f.outcome == "ok" for f in facts)
    assert all(f.cost_usd > 0 and f.tokens > 0 and (f.model_calls or 0) >= 2 for f in facts)
    by_arm = {name: [f for f in facts if f.variant == name] for name in ("batched", "facts")}
    # batch size 0 plans one map step per share of the document; the default batches short pages.
    assert min(f.map_steps or 0 for f in by_arm["facts"]) > max(f.map_steps or 0 for f in by_arm["batched"])
    batched, facts_arm = compare(facts, ["batched", "facts"], min_n=2)
    assert (facts_arm.model_calls_per_query.value or 0) > (batched.model_calls_per_query.value or 0)
    table = text_table([batched, facts_arm], rows=SUMMARY_ROWS)
    assert "Model calls per summary" in table and "Summaries with a quoted (not model-written) step" in table


def test_a_failed_summary_is_recorded_as_failed(tmp_path: Path) -> None:
    from assistant.experiments.summaries import SummaryExperiments

    governance = build_governance(Settings(data_dir=tmp_path).governance, tmp_path)
    ExperimentStore(governance.engine).create(summaries_ab(), created_by="admin")
    arm = SummaryExperiments(governance.engine).arm_for("user-00", "t-0")

    async def broken() -> object:
        raise RuntimeError("model gone")

    with pytest.raises(RuntimeError):
        asyncio.run(arm.measured(broken()))  # type: ignore[arg-type]
    [fact] = ExperimentStore(governance.engine).turn_facts("summary-ab")
    assert fact.outcome == "error" and fact.map_steps is None
    governance.close()


def test_the_batch_size_never_exceeds_the_map_input_budget() -> None:
    from assistant.experiments.models import TurnVariant
    from assistant.experiments.summaries import SummaryArm

    big = SummaryArm(
        variant=TurnVariant(experiment_id="x", variant=Variant(name="b", share=1, batch_map_tokens=4000))
    )
    assert (
        big.batch_map_tokens(900, limit=900) == 900 and SummaryArm().batch_map_tokens(700, limit=900) == 700
    )
    assert SummaryArm().step_tag == "" and big.step_tag == "@b"
