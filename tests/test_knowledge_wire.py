"""Retrieved chunks taint the turn, proven on the wire: a regulated passage in the context keeps
the whole turn on the local model, and the hosted endpoint never sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.privacy_gate import GatePrivacy
from assistant.services import tier_classifier
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from knowledge.knowledge_base import KnowledgeBase
from knowledge.testing import shared_onnx_embedder
from models.hosted import HostedModel
from routing.tiers import Tier

pytestmark = pytest.mark.slow

CANARY_SSN = "219-09-9999"
PAYROLL = f"""# Payroll exception for Dana Whitfield

Dana Whitfield's social security number is {CANARY_SSN}. Her bank account 123456789 at routing
number 021000021 receives the quarterly retention bonus of 14,000 dollars, approved by payroll.
"""
CAFETERIA = """# Cafeteria opening hours

The cafeteria on the ground floor opens at 7:30 and closes at 15:00 on weekdays. On Fridays the
cafeteria serves a vegetarian lunch menu. Coffee is free for everyone before 9:00.
"""


@pytest.fixture
def knowledge(tmp_path: Path, gate_privacy: GatePrivacy):  # type: ignore[no-untyped-def]
    from assistant.governance.db import open_database
    from assistant.governance.settings import GovernanceSettings

    settings = Settings(data_dir=tmp_path / "data")
    engine = open_database(GovernanceSettings(), tmp_path)
    kb = KnowledgeBase(settings, engine, tier_classifier(gate_privacy), embedder=shared_onnx_embedder())
    for name, text in (("payroll.md", PAYROLL), ("cafeteria.md", CAFETERIA)):
        path = tmp_path / name
        path.write_text(text)
        result = kb.ingest_file(path, owner="hr-admin", groups=["staff"])
        assert result.status == "added", result
    return settings, kb


async def ask(pipeline: ChatPipeline, text: str) -> TurnResult:
    conversation = Conversation(id="kb-wire", principal=Principal(user_id="bob", groups=frozenset({"staff"})))
    events = [e async for e in pipeline.run(conversation, text)]
    assert isinstance(events[-1], TurnResult)
    return events[-1]


def make_pipeline(settings, kb, local, hosted_settings, privacy) -> ChatPipeline:  # type: ignore[no-untyped-def]
    settings.chat.answer_reserve_tokens = 16
    settings.models.local.max_tokens = 16
    # Grounded prompts are long for the loopback stand-in on a busy machine: this test is about
    # routing, not timeouts (tests/test_faults*.py cover those).
    hosted_settings = hosted_settings.model_copy(
        update={"first_token_timeout_s": 60.0, "total_timeout_s": 120.0}
    )
    hosted = [HostedModel(hosted_settings.models.strong, hosted_settings, count_tokens=local.count_tokens)]
    return ChatPipeline(
        settings=settings,
        models=ModelSet(local=local, hosted=hosted),
        privacy=privacy,
        services=TurnServices(knowledge=kb),
    )


async def test_regulated_chunk_routes_the_turn_locally(
    knowledge, local_llama_model, hosted_settings, hosted_proxy, gate_privacy
) -> None:  # type: ignore[no-untyped-def]
    settings, kb = knowledge
    pipeline = make_pipeline(settings, kb, local_llama_model, hosted_settings, gate_privacy)
    # The question itself is harmless; the passage that answers it is regulated.
    result = await ask(pipeline, "How large is the quarterly retention bonus approved by payroll?")
    assert result.receipt.tier == Tier.REGULATED
    assert result.route == "local"
    assert any("payroll" in source.title.lower() for source in result.sources)
    assert any(name.startswith("document") for name in result.receipt.tainted_by)
    assert hosted_proxy.requests == []
    assert CANARY_SSN not in "\n".join(hosted_proxy.requests)


async def test_public_question_on_a_harmless_passage_may_go_hosted(
    knowledge, local_llama_model, hosted_settings, hosted_proxy, gate_privacy
) -> None:  # type: ignore[no-untyped-def]
    settings, kb = knowledge
    pipeline = make_pipeline(settings, kb, local_llama_model, hosted_settings, gate_privacy)
    result = await ask(pipeline, "When does the cafeteria open on weekdays?")
    assert result.receipt.tier != Tier.REGULATED
    assert result.route == "hosted", (result.notices, result.outcome, result.receipt)
    assert result.sources and "cafeteria" in result.sources[0].title.lower()
    sent = "\n".join(hosted_proxy.requests)
    assert "7:30" in sent  # the passage itself went, delimited as a source
    assert CANARY_SSN not in sent and "Whitfield" not in sent


async def test_user_outside_the_group_gets_nothing_from_it(knowledge) -> None:  # type: ignore[no-untyped-def]
    _, kb = knowledge
    outsider = Principal(user_id="eve", groups=frozenset({"sales"}))
    chunks = kb.search("quarterly retention bonus payroll", outsider, k=5)
    assert all(CANARY_SSN not in chunk.text for chunk in chunks)
    assert chunks == []
