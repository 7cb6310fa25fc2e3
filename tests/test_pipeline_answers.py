"""Answers an employee can use (issue 16), through the whole pipeline with scripted models.

A scripted knowledge base returns fixed passages (documents are "ingested"); the real citation
check, confidence and answer-support code runs on them. No real model: the answers are scripted,
so each test says exactly what the model wrote and asserts what the user then sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from knowledge.chunking import approximate_tokens
from knowledge.citations import CitationReport, check_citations
from knowledge.confidence import Confidence, assess_confidence, is_answerable
from knowledge.grounding import GroundedPrompt, Source, build_grounded_prompt
from knowledge.retrieval import RetrievedChunk
from knowledge.testing import HashingEmbedder
from models.base import ModelUnavailable
from models.fakes import QueueModel
from routing.tiers import Tier
from tests.support.privacy import ScriptedPrivacy
from tests.test_intent import DRAFTING, STARTERS

ADDRESS = (
    "To change your home address, submit form HR-12 to the HR team within 30 days of moving. "
    "The form is on the intranet under Personal details."
)
LEAVE = "Parental leave is 16 weeks at full pay for the primary carer. Partners get 4 weeks."
ALLOWANCE = "The home office allowance is 300 euros per year, paid with the January salary."


def chunk(text: str, n: int, *, strong: bool) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=f"v:{n}",
        doc_id=f"d{n}",
        version_id="v",
        title=f"Handbook part {n}",
        display_name=f"handbook{n}.md",
        page=None,
        section="Benefits",
        text=text,
        start=0,
        end=len(text),
        score=0.03,
        dense_similarity=0.8 if strong else 0.2,
        bm25_score=9.0 if strong else 0.5,
        dense_rank=1,
        bm25_rank=1 if strong else 4,
        coverage=0.9 if strong else 0.1,
        tier=Tier.INTERNAL,
    )


class ScriptedKnowledge:
    """Documents exist; `hits(question)` says which passages a search returns and how strongly."""

    def __init__(self, hits: Callable[[str], list[RetrievedChunk]]) -> None:
        self._hits = hits
        self.embedder = HashingEmbedder()

    def search(self, query: str, principal: Principal, k: int = 5) -> list[RetrievedChunk]:
        return self._hits(query)[:k]

    def is_answerable(self, chunks: Sequence[RetrievedChunk]) -> bool:
        return is_answerable(chunks)

    def grounded_messages(self, question, chunks, *, count_tokens=approximate_tokens, system_prompt=""):  # type: ignore[no-untyped-def]
        prompt: GroundedPrompt = build_grounded_prompt(
            question, chunks, count_tokens=count_tokens, budget_tokens=1500, system_prompt=system_prompt
        )
        return prompt

    def check_citations(self, answer: str, sources: Sequence[Source]) -> CitationReport:
        return check_citations(answer, sources)

    def confidence(
        self, chunks: Sequence[RetrievedChunk], report: CitationReport | None = None
    ) -> Confidence:
        return assess_confidence(chunks, report)


def handbook(question: str) -> list[RetrievedChunk]:
    """A small handbook: strong hits for its own topics, weak unrelated passages otherwise."""
    q = question.lower()
    if "address" in q:
        return [chunk(ADDRESS, 1, strong=True), chunk(LEAVE, 2, strong=False)]
    if "allowance" in q:
        return [chunk(ALLOWANCE, 1, strong=True), chunk(LEAVE, 2, strong=False)]
    if "parental" in q:
        return [chunk(LEAVE, 1, strong=True)]
    return [chunk(LEAVE, 1, strong=False), chunk(ADDRESS, 2, strong=False)]


class Tickets:
    def __init__(self) -> None:
        self.opened: list[dict[str, str]] = []

    def open_escalation(self, *, thread_id: str, user_id: str, reason: str, detail: str) -> str:
        self.opened.append({"thread_id": thread_id, "reason": reason, "detail": detail})
        return f"e{len(self.opened)}"


class EchoPrivacy(ScriptedPrivacy):
    """The scripted gate, also naming the SSN-shaped values that made a message regulated."""

    def regulated_values(self, text: str) -> list[str]:
        return re.findall(r"\d{3}-\d{2}-\d{4}", text)


def build(local: QueueModel, tickets: Tickets | None = None) -> ChatPipeline:
    return ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=local),
        privacy=EchoPrivacy(),
        services=TurnServices(knowledge=ScriptedKnowledge(handbook), escalations=tickets),
    )


def conversation() -> Conversation:
    return Conversation(id="thread-1", principal=Principal(user_id="u1"))


async def ask(p: ChatPipeline, conv: Conversation, text: str) -> TurnResult:
    events = [e async for e in p.run(conv, text)]
    assert isinstance(events[-1], TurnResult)
    return events[-1]


@pytest.mark.parametrize("text", [s for s, _ in STARTERS if "handbook" not in s] + DRAFTING)
async def test_starters_and_drafting_tasks_are_answered_with_documents_ingested(text: str) -> None:
    local = QueueModel(default="Here is a draft you can use.")
    tickets = Tickets()
    result = await ask(build(local, tickets), conversation(), text)
    assert result.answer == "Here is a draft you can use."
    assert result.outcome == "ok" and not result.sources and result.confidence is None
    assert tickets.opened == []
    # The unrelated passages never entered the prompt.
    assert "Parental leave" not in local.sent_text()


async def test_company_question_with_nothing_relevant_is_not_found_without_a_ticket() -> None:
    tickets = Tickets()
    local = QueueModel(name="local")
    result = await ask(build(local, tickets), conversation(), "What is our policy on company cars?")
    assert result.answer.startswith("I couldn't find this in the documents you can access.")
    assert "closest passages" in result.answer and result.sources
    assert tickets.opened == [] and local.requests == []


async def test_correct_citation_can_show_high() -> None:
    local = QueueModel("To change your home address, submit form HR-12 to the HR team within 30 days [1].")
    result = await ask(build(local), conversation(), "Which form do I use to change my home address?")
    assert result.confidence is not None and result.confidence.level == "high"


async def test_wrong_passage_cited_shows_low_with_the_reason() -> None:
    local = QueueModel("Parental leave is 16 weeks at full pay for the primary carer [1].")
    tickets = Tickets()
    result = await ask(build(local, tickets), conversation(), "How much is the home office allowance?")
    assert result.confidence is not None and result.confidence.level == "low"
    assert "not supported by the cited passage" in result.confidence.reason
    assert tickets.opened == []  # a low badge is not a ticket; "Ask a person" is the user's call


async def test_home_office_allowance_repeating_the_previous_answer_is_low() -> None:
    leave_answer = "Parental leave is 16 weeks at full pay for the primary carer [1]."
    local = QueueModel(leave_answer, leave_answer)
    p, conv = build(local), conversation()
    first = await ask(p, conv, "How long is parental leave?")
    assert first.confidence is not None and first.confidence.level == "high"
    second = await ask(p, conv, "How much is the home office allowance?")
    assert second.confidence is not None and second.confidence.level == "low"
    assert "repeats the previous answer" in second.confidence.reason


async def test_markup_is_removed_silently_and_recorded_in_the_receipt() -> None:
    debris = "<script>x</script>" * 3
    local = QueueModel(f"Use form HR-12 to change your home address [1].{debris}")
    result = await ask(build(local), conversation(), "Which form do I use to change my home address?")
    assert "removed" not in result.answer and "<script" not in result.answer
    assert result.answer.startswith("Use form HR-12")
    assert result.receipt.cleaned == {"markup": 6}


async def test_regulated_value_is_not_echoed_back() -> None:
    local = QueueModel(["Your SSN is 536-", "22-4567. Keep it safe."])
    result = await ask(build(local), conversation(), "My SSN is 536-22-4567, what do I do with it?")
    assert "4567" not in result.answer and "[hidden]" in result.answer
    assert result.receipt.cleaned == {"echoed_value": 1} and result.route == "local"


async def test_user_may_ask_for_their_own_value_back() -> None:
    local = QueueModel("536-22-4567")
    result = await ask(build(local), conversation(), "Format my SSN 536224567 with dashes")
    assert result.answer == "536-22-4567"


async def test_tickets_only_for_repeated_failures_and_regulated_questions_stay_hidden() -> None:
    local = QueueModel(ModelUnavailable("down"), ModelUnavailable("down"), name="local")
    tickets = Tickets()
    p, conv = build(local, tickets), conversation()
    await ask(p, conv, "My SSN is 536-22-4567, is that a valid format?")
    assert tickets.opened == []  # one failure is a blip
    await ask(p, conv, "My SSN is 536-22-4567, is that a valid format?")
    assert [t["reason"] for t in tickets.opened] == ["repeated_failures"]
    assert "536" not in tickets.opened[0]["detail"] and "tier regulated" in tickets.opened[0]["detail"]
    assert tickets.opened[0]["thread_id"] == "thread-1"


async def test_a_looping_grounded_answer_is_low() -> None:
    loop = "To change your home address, submit form HR-12 to the HR team [1]. " * 8
    result = await ask(
        build(QueueModel(loop)), conversation(), "Which form do I use to change my home address?"
    )
    assert result.confidence is not None and result.confidence.level == "low"
    assert "repeats itself" in result.confidence.reason


async def test_the_real_gate_names_the_values_to_mask(gate_privacy) -> None:  # type: ignore[no-untyped-def]
    """Integration: the production gate feeds the echo guard (an SSN-shaped number is regulated)."""
    values = gate_privacy.regulated_values("My SSN is 536-22-4567 and my name is Dana Whitfield.")
    assert "536-22-4567" in values and "Dana Whitfield" not in values
    local = QueueModel("Noted: 536 22 4567.")
    p = ChatPipeline(settings=Settings(), models=ModelSet(local=local), privacy=gate_privacy)
    result = await ask(p, conversation(), "My SSN is 536-22-4567, is it stored anywhere?")
    assert "4567" not in result.answer and result.receipt.cleaned == {"echoed_value": 1}


HANDBOOK = {
    "remote.md": "# Remote work\n\nEmployees may work remotely up to three days a week after agreeing it "
    "with their manager. Core hours are 10:00 to 15:00.\n",
    "allowance.md": "# Home office allowance\n\n" + ALLOWANCE + "\n",
    "address.md": "# Changing your address\n\n" + ADDRESS + "\n",
    "leave.md": "# Parental leave\n\n" + LEAVE + "\n",
}


@pytest.mark.slow
async def test_with_real_documents_ingested(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Real knowledge base (Chroma, BM25, int8 MiniLM) with a small handbook; scripted model."""

    from assistant.governance.db import open_database
    from assistant.governance.settings import GovernanceSettings
    from knowledge.knowledge_base import KnowledgeBase
    from knowledge.testing import shared_onnx_embedder

    settings = Settings(data_dir=tmp_path / "data")
    engine = open_database(GovernanceSettings(), tmp_path)
    kb = KnowledgeBase(settings, engine, lambda _text: Tier.INTERNAL, embedder=shared_onnx_embedder())
    for name, text in HANDBOOK.items():
        (tmp_path / name).write_text(text)
        assert kb.ingest_file(tmp_path / name, owner="hr", public=True).status == "added"
    local = QueueModel(default="Here is what I can tell you.")
    tickets = Tickets()
    p = ChatPipeline(
        settings=settings,
        models=ModelSet(local=local),
        privacy=EchoPrivacy(),
        services=TurnServices(knowledge=kb, escalations=tickets),
    )
    for text in [s for s, _ in STARTERS] + DRAFTING:
        result = await ask(p, conversation(), text)
        assert result.answer == "Here is what I can tell you.", text
        # The company starter is grounded in the remote-work page; the tasks are not grounded.
        assert bool(result.sources) == ("handbook" in text), text
    missing = await ask(p, conversation(), "What is our policy on company cars?")
    assert missing.answer.startswith("I couldn't find this")
    local.enqueue("Parental leave is 16 weeks at full pay for the primary carer [1].")
    wrong = await ask(p, conversation(), "How much is the home office allowance?")
    assert wrong.confidence is not None and wrong.confidence.level == "low"
    assert tickets.opened == []
