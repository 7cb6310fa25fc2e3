"""Document ids as the tools show them to the model (`doc_<id>`), and what that changes on the wire.

The session-6 walkthrough found a search of the public handbook tainted regulated: the gate read
the tool's own document id (24 hex digits) as a driver's licence number, not anything in the
handbook (bench/bench_doc_id_taint.py). The ids are now shown with a prefix the tools also accept.
That lets such a result reach the hosted model (pseudonymized) again, so the wire tests here use
the real gate: a passage with an SSN still keeps the rest of the turn off the hosted endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.settings import load_settings
from assistant.tools.base import ToolContext
from assistant.tools.builtin import (
    NOT_FOUND,
    ReadDocumentSectionTool,
    ReadSectionArguments,
    SearchDocumentsArguments,
    SearchDocumentsTool,
    shown_doc_id,
)
from assistant.tools.loop import LoopFinished, LoopTurn, ToolLoop
from assistant.tools.rounds import RoutedRound
from assistant.tools.runner import ToolRunner
from knowledge.access import Principal
from knowledge.knowledge_base import KnowledgeBase
from knowledge.registry import document_id_for
from knowledge.testing import HashingEmbedder
from models.base import ChatMessage
from models.fakes import QueueModel
from models.hosted import HostedModel
from routing.routed import ModelSet
from routing.tiers import Route, Tier
from tests.support.scripted_openai import ScriptedOpenAI, text_stream, tool_call_stream
from tests.support.tool_kit import Catalog, decision, route_for
from tests.test_tool_hosted_wire import hosted, server  # noqa: F401  (the scripted endpoint and its client)

HANDBOOK = Path(__file__).parent / "data" / "docs" / "handbook-1p.docx"
# A fixed source, so the id is the same in every run; bare, the gate read this one's id in the
# search result below as a driver's licence number (regulated).
HANDBOOK_SOURCE = "handbook/handbook-1p.docx"
SSN_CANARY = "078-05-1120"
READER = Principal(user_id="newcomer", groups=frozenset())
QUERY = '{"query": "duties of a standing trustee"}'


def open_kb(data_dir: Path, classify: Any) -> KnowledgeBase:
    engine = open_database(GovernanceSettings(), data_dir)
    return KnowledgeBase(load_settings(data_dir=data_dir), engine, classify, embedder=HashingEmbedder())


@pytest.fixture
def handbook_kb(data_dir: Path) -> KnowledgeBase:
    kb = open_kb(data_dir, lambda _t: Tier.INTERNAL)
    kb.ingest_file(HANDBOOK, owner="admin", public=True, source=HANDBOOK_SOURCE)
    return kb


async def test_search_shows_prefixed_ids_that_read_document_section_accepts(
    handbook_kb: KnowledgeBase,
) -> None:
    doc_id = document_id_for(HANDBOOK_SOURCE)
    found = await SearchDocumentsTool(handbook_kb).run(
        SearchDocumentsArguments(query="standing trustee duties"), ToolContext(principal=READER)
    )
    assert f"(doc_id {shown_doc_id(doc_id)}, " in found.content and f"(doc_id {doc_id}" not in found.content
    assert found.data is not None and found.data["passages"][0]["doc_id"] == doc_id  # the UI's own id
    reader = ReadDocumentSectionTool(handbook_kb)
    for written in (shown_doc_id(doc_id), doc_id, f" {shown_doc_id(doc_id)} "):
        section = await reader.run(ReadSectionArguments(doc_id=written), ToolContext(principal=READER))
        assert not section.is_error and "standing trustee" in section.content
        assert section.content.startswith(f"handbook-1p (doc_id {shown_doc_id(doc_id)}, ")
    missing = await reader.run(ReadSectionArguments(doc_id="doc_0000"), ToolContext(principal=READER))
    assert missing.is_error and missing.content == NOT_FOUND


# -- with the real gate, on the wire -----------------------------------------------------------


@pytest.fixture
def patient_gate(gate_privacy: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The session's real gate with a generous time limit: a search result is several thousand
    characters, and a classification past the 2 s limit fails closed (regulated) under load, which
    is right for the product but would make these tests about the machine's load, not the wire."""
    monkeypatch.setattr(gate_privacy.gate, "_timeout_s", 120.0)
    return gate_privacy


def gated_kb(data_dir: Path, gate_privacy: Any, *extra: tuple[str, str]) -> KnowledgeBase:
    kb = open_kb(data_dir, lambda text: Tier(gate_privacy.gate.classify(text, source="document").tier))
    kb.ingest_file(HANDBOOK, owner="admin", public=True, source=HANDBOOK_SOURCE)
    for name, text in extra:
        path = data_dir.parent / name
        path.write_text(text)
        kb.ingest_file(path, owner="admin", public=True, source=name)
    return kb


async def search_turn(
    kb: KnowledgeBase,
    gate_privacy: Any,
    model: HostedModel,
    local: QueueModel,
) -> LoopFinished:
    catalog = Catalog([SearchDocumentsTool(kb)])  # type: ignore[list-item]
    loop = ToolLoop(catalog, ToolRunner(catalog, gate_privacy))  # type: ignore[arg-type]
    turn = LoopTurn(principal=READER, decision=decision(Tier.PUBLIC), route_for=route_for)
    question = [ChatMessage(role="user", content="What are a standing trustee's duties?")]
    round_ = RoutedRound(ModelSet(local=local, hosted=[model]), question, privacy=gate_privacy)
    events = [event async for event in loop.run(turn, round_)]
    finished = events[-1]
    assert isinstance(finished, LoopFinished) and finished.report.termination == "answered"
    return finished


async def test_a_public_handbook_result_goes_back_to_the_hosted_model(
    data_dir: Path,
    patient_gate: Any,
    server: ScriptedOpenAI,  # noqa: F811
    hosted: HostedModel,  # noqa: F811
) -> None:
    gate_privacy = patient_gate
    server.script.extend([tool_call_stream("search_documents", QUERY), text_stream("They are listed.")])
    local = QueueModel("unused", name="local", kind="local")
    finished = await search_turn(gated_kb(data_dir, gate_privacy), gate_privacy, hosted, local)
    assert finished.report.result_tier is not Tier.REGULATED and finished.decision.route is not Route.LOCAL
    assert len(server.bodies) == 2 and local.requests == []
    tool_message = server.bodies[1]["messages"][-1]
    assert tool_message["role"] == "tool" and shown_doc_id(document_id_for(HANDBOOK_SOURCE)) in str(
        tool_message
    )


async def test_a_passage_with_an_ssn_still_keeps_the_rest_of_the_turn_off_the_hosted_endpoint(
    data_dir: Path,
    patient_gate: Any,
    server: ScriptedOpenAI,  # noqa: F811
    hosted: HostedModel,  # noqa: F811
) -> None:
    gate_privacy = patient_gate
    note = ("trustee-note.md", f"# Standing trustee duties\n\nThe standing trustee's SSN is {SSN_CANARY}.\n")
    server.script.append(tool_call_stream("search_documents", QUERY))
    local = QueueModel("They are listed.", name="local", kind="local")
    finished = await search_turn(gated_kb(data_dir, gate_privacy, note), gate_privacy, hosted, local)
    assert finished.report.result_tier is Tier.REGULATED and finished.decision.route is Route.LOCAL
    assert len(server.bodies) == 1 and SSN_CANARY not in server.raw_requests()
    assert SSN_CANARY in local.sent_text()
