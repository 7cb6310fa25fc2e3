"""A grounded request (retrieved passages in the prompt) to the local model carries no tools: with
them, the local Qwen answered "I couldn't find this" to questions its passages answer, or called a
tool instead (bench/bench_tool_choice.py). Hosted models and ungrounded requests keep their tools."""

from __future__ import annotations

from assistant.tools.chat_turn import grounded, request_in_window
from assistant.tools.loop import RoundRequest
from knowledge.grounding import build_grounded_prompt
from knowledge.retrieval import RetrievedChunk
from models.base import ChatMessage, ChatRequest, ToolDefinition
from models.fakes import QueueModel
from models.tokens import approximate_tokens
from routing.tiers import Route, Tier

LOOKUP = ToolDefinition(name="search_documents", description="Search the company documents.")
ROUND = RoundRequest((), (LOOKUP,), Route.LOCAL, Tier.PUBLIC)
PASSAGE = "Employees may take up to 16 weeks of paid parental leave."


def grounded_request() -> ChatRequest:
    chunk = RetrievedChunk(
        chunk_id="c1", doc_id="d1", version_id="v1", title="Leave policy", display_name="Leave policy",
        page=None, section="", text=PASSAGE, start=0, end=len(PASSAGE), score=1.0, dense_similarity=None,
        bm25_score=None, dense_rank=1, bm25_rank=1, tier=Tier.INTERNAL,
    )  # fmt: skip
    prompt = build_grounded_prompt(
        "How many weeks of parental leave?", [chunk], count_tokens=approximate_tokens, budget_tokens=700,
        system_prompt="You are Confidante.",
    )  # fmt: skip
    return ChatRequest.of(prompt.messages, max_tokens=128)


def plain_request(text: str = "What's 17.5 % of 2,380?") -> ChatRequest:
    return ChatRequest.of(
        [ChatMessage(role="system", content="You are Confidante."), ChatMessage(role="user", content=text)],
        max_tokens=128,
    )


def test_the_local_model_gets_no_tools_beside_retrieved_passages() -> None:
    local = QueueModel(kind="local")
    assert grounded(grounded_request()) and not grounded(plain_request())
    assert request_in_window(grounded_request(), local, ROUND, supports=True).tools == ()
    assert request_in_window(plain_request(), local, ROUND, supports=True).tools == (LOOKUP,)


def test_hosted_models_keep_their_tools_on_grounded_requests() -> None:
    hosted = QueueModel(kind="hosted")
    assert request_in_window(grounded_request(), hosted, ROUND, supports=True).tools == (LOOKUP,)


def test_a_user_cannot_switch_tools_off_by_quoting_the_grounding_instruction() -> None:
    from knowledge.grounding import GROUNDING_INSTRUCTION

    quoted = plain_request(f"Please read this: {GROUNDING_INSTRUCTION}")
    assert not grounded(quoted)
    assert request_in_window(quoted, QueueModel(kind="local"), ROUND, supports=True).tools == (LOOKUP,)
