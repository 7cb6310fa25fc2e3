"""Finished turns become governance records: chained audit entries, metrics and a GenAI trace."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from assistant.governance.component import build_governance
from assistant.governance.telemetry import Telemetry
from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.turn_records import GovernanceBudgets, GovernanceEscalations, GovernanceRecorder
from assistant.turns import Conversation, TurnResult
from models.fakes import QueueModel
from tests.test_pipeline import KeywordPrivacy


async def test_turn_is_audited_measured_and_traced(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    settings = Settings(data_dir=tmp_path)
    governance = build_governance(settings.governance, tmp_path, telemetry=Telemetry(span_exporter=exporter))
    try:
        local = QueueModel("local answer", name="local-fake")
        hosted = QueueModel("hosted answer", name="gpt-4o", kind="hosted")
        pipeline = ChatPipeline(
            settings=settings,
            models=ModelSet(local=local, hosted=[hosted]),
            privacy=KeywordPrivacy(),
            observers=[GovernanceRecorder(governance, settings)],
            services=TurnServices(
                escalations=GovernanceEscalations(governance), budgets=GovernanceBudgets(governance)
            ),
        )
        conversation = Conversation(id="thread-1", principal=Principal(user_id="ann"))
        events = [e async for e in pipeline.run(conversation, "What is the capital of France?")]
        result = events[-1]
        assert isinstance(result, TurnResult) and result.route == "hosted"

        records = governance.audit.records()
        assert [(r.kind, r.route, r.outcome) for r in records] == [
            ("routing_decision", "hosted", "ok"),
            ("model_call", "hosted", "ok"),
        ]
        call = records[1]
        assert call.user_id == "ann" and call.thread_id == "thread-1" and call.model == "gpt-4o"
        assert call.tier == "public" and call.prompt_template_version
        assert call.cost_usd > 0  # gpt-4o has a price in settings; the local model costs nothing
        assert governance.audit.verify().ok

        metrics = governance.telemetry.exposition().decode()
        assert 'route="hosted",tier="public"' in metrics

        assert governance.telemetry.tracer_provider is not None
        governance.telemetry.tracer_provider.force_flush()
        spans = {span.name: span for span in exporter.get_finished_spans()}
        assert set(spans) == {"chat turn", "chat gpt-4o"}
        model_span = spans["chat gpt-4o"]
        assert model_span.attributes["gen_ai.request.model"] == "gpt-4o"
        assert model_span.attributes["gen_ai.usage.output_tokens"] > 0
        assert (
            model_span.parent is not None and model_span.parent.span_id == spans["chat turn"].context.span_id
        )
    finally:
        governance.close()


async def test_asking_for_a_person_opens_an_escalation(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    governance = build_governance(settings.governance, tmp_path)
    try:
        local = QueueModel(name="local")
        pipeline = ChatPipeline(
            settings=settings,
            models=ModelSet(local=local),
            privacy=KeywordPrivacy(),
            observers=[GovernanceRecorder(governance, settings)],
            services=TurnServices(escalations=GovernanceEscalations(governance)),
        )
        conversation = Conversation(id="thread-2", principal=Principal(user_id="ann"))
        events = [e async for e in pipeline.run(conversation, "I want to talk to a person please")]
        result = events[-1]
        assert isinstance(result, TurnResult)
        assert result.outcome == "escalated" and result.escalation_id
        assert local.requests == []  # no model was asked
        (escalation,) = governance.escalations.list_open()
        assert escalation.reason == "user_request" and escalation.thread_id == "thread-2"
        assert [r.outcome for r in governance.audit.records()] == ["escalated"]
    finally:
        governance.close()


async def test_over_budget_is_refused_clearly_and_audited(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.governance.budgets.daily_tokens = 5  # the first answer uses more than this
    governance = build_governance(settings.governance, tmp_path)
    try:
        local = QueueModel(default="a fairly long answer with quite a few words in it", name="local")
        pipeline = ChatPipeline(
            settings=settings,
            models=ModelSet(local=local),
            privacy=KeywordPrivacy(),
            observers=[GovernanceRecorder(governance, settings)],
            services=TurnServices(budgets=GovernanceBudgets(governance)),
        )
        conversation = Conversation(id="thread-3", principal=Principal(user_id="ann"))
        first = [e async for e in pipeline.run(conversation, "hello there")][-1]
        second = [e async for e in pipeline.run(conversation, "and again")][-1]
        assert isinstance(first, TurnResult) and first.outcome == "ok"
        assert isinstance(second, TurnResult) and second.outcome == "over_budget"
        assert "budget" in second.answer and len(local.requests) == 1
        assert "over_budget" in [r.outcome for r in governance.audit.records()]
        governance.budgets.set_override(
            user_id="ann", daily_tokens=1_000_000, daily_cost_usd=10.0, set_by="admin"
        )
        third = [e async for e in pipeline.run(conversation, "one more")][-1]
        assert isinstance(third, TurnResult) and third.outcome == "ok"
    finally:
        governance.close()
