"""The document side of a turn: retrieval under the user's ACL, taint from the chunks, the
grounded prompt, and after the answer the citation check and the confidence.

Retrieved chunks taint the turn: a regulated chunk in the context makes the whole turn
regulated (local model only), whatever the question said. Weak retrieval produces an honest
"not found" with the closest passages instead of an invented answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from assistant.identity import Principal
from assistant.turns import ConfidenceView, SourceRef
from models.base import ChatMessage
from routing.tiers import Tier, highest

if TYPE_CHECKING:
    from knowledge.citations import CitationReport
    from knowledge.grounding import GroundedPrompt, Source
    from knowledge.retrieval import RetrievedChunk

NOT_FOUND = "I couldn't find this in the documents you can access."
SNIPPET_CHARS = 320


class Knowledge(Protocol):
    """What the pipeline needs from `knowledge.KnowledgeBase`."""

    def search(
        self, query: str, principal: Principal, k: int = 5, *, rerank: bool | None = None
    ) -> list[RetrievedChunk]: ...

    def is_answerable(self, chunks: Sequence[RetrievedChunk]) -> bool: ...

    def grounded_messages(
        self,
        question: str,
        chunks: Sequence[RetrievedChunk],
        *,
        count_tokens: Callable[[str], int] = ...,
        system_prompt: str = "",
    ) -> GroundedPrompt: ...

    def check_citations(self, answer: str, sources: Sequence[Source]) -> CitationReport: ...

    def confidence(self, chunks: Sequence[RetrievedChunk], report: CitationReport | None = None) -> Any: ...


@dataclass
class Retrieval:
    """What retrieval found for one turn.

    `chunks` are the passages that will enter the prompt (relevant ones only): the turn is
    routed by their tier and the prompt is built from exactly them. `candidates` is everything
    the search returned, used only for the closest passages of a "not found" answer.
    """

    chunks: list[RetrievedChunk] = field(default_factory=list)
    answerable: bool = False
    candidates: list[RetrievedChunk] = field(default_factory=list)

    @property
    def used(self) -> bool:
        return bool(self.chunks)

    @property
    def tier(self) -> Tier:
        return highest(*(chunk.tier for chunk in self.chunks))

    def tainted_by(self) -> list[str]:
        return [f"document “{c.title}”" for c in self.chunks if c.tier == Tier.REGULATED]

    @property
    def doc_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(chunk.doc_id for chunk in self.chunks))


def select_context(chunks: Sequence[RetrievedChunk], *, keep_ratio: float = 0.6) -> list[RetrievedChunk]:
    """The passages relevant enough to put in front of a model, best first.

    The best hit always stays; another stays if it shares key words with the question (a
    lexical hit with some coverage) or is nearly as close in meaning as the best. An unrelated
    passage that only filled the top-k never enters the prompt, so it can neither taint the
    turn nor distract the model.
    """
    if not chunks:
        return []
    best = chunks[0]
    top_dense = max((c.dense_similarity or 0.0) for c in chunks)
    selected = [best]
    for chunk in chunks[1:]:
        lexical = chunk.bm25_rank is not None and chunk.coverage >= 0.3
        semantic = (chunk.dense_similarity or 0.0) >= keep_ratio * top_dense and top_dense > 0
        if lexical or semantic:
            selected.append(chunk)
    return selected


def grounded_request_parts(
    knowledge: Knowledge,
    question: str,
    retrieval: Retrieval,
    *,
    count_tokens: Callable[[str], int],
    system: str,
) -> tuple[ChatMessage, ChatMessage, tuple[Source, ...]]:
    """System and user messages for a grounded answer, and the numbered sources they carry."""
    prompt = knowledge.grounded_messages(
        question, retrieval.chunks, count_tokens=count_tokens, system_prompt=system
    )
    system_message, user_message = prompt.messages[0], prompt.messages[-1]
    return system_message, user_message, prompt.sources


def source_refs(sources: Sequence[Source], report: CitationReport | None) -> tuple[SourceRef, ...]:
    highlights = {h.number: h.sentence for h in report.highlights} if report else {}
    return tuple(
        SourceRef(
            number=source.number,
            doc_id=source.chunk.doc_id,
            title=source.chunk.title,
            location=source.chunk.locator,
            snippet=_snippet(source.chunk.text),
            passage=source.chunk.text,
            highlight=highlights.get(source.number, ""),
            score=round(source.chunk.score, 4),
            tier=source.chunk.tier,
        )
        for source in sources
    )


def closest_refs(chunks: Sequence[RetrievedChunk], limit: int = 3) -> tuple[SourceRef, ...]:
    return tuple(
        SourceRef(
            number=i,
            doc_id=c.doc_id,
            title=c.title,
            location=c.locator,
            snippet=_snippet(c.text),
            passage=c.text,
            score=round(c.score, 4),
            tier=c.tier,
        )
        for i, c in enumerate(chunks[:limit], start=1)
    )


def not_found_answer(refs: Sequence[SourceRef]) -> str:
    if not refs:
        return NOT_FOUND
    lines = [NOT_FOUND, "", "The closest passages I found:"]
    lines += [f"- **{ref.title}** ({ref.location})" for ref in refs]
    return "\n".join(lines)


def answer_confidence_view(
    knowledge: Knowledge,
    retrieval: Retrieval,
    answer: str,
    sources: Sequence[Source],
    *,
    question: str,
    history: Sequence[ChatMessage],
) -> ConfidenceView:
    """The badge after generation: min(retrieval confidence, the answer's own support).

    Sentence similarity uses the knowledge base's embedder when it has one (the int8 MiniLM that
    indexed the passages); without it the check is lexical and numeric only, never skipped.
    """
    from knowledge.answer_support import assess_answer
    from knowledge.confidence import answer_confidence

    embedder = getattr(knowledge, "embedder", None)
    previous = next((m.content for m in reversed(history) if m.role == "assistant"), "")
    support = assess_answer(
        answer,
        {source.number: source.chunk.text for source in sources},
        question=question,
        previous_answer=previous,
        embed=embedder.embed if embedder is not None else None,
    )
    settings = getattr(getattr(knowledge, "config", None), "confidence", None)
    view = confidence_view(answer_confidence(retrieval.candidates, support, settings))
    # Kept with the turn: the experiments' hallucination rate counts answers with any of these.
    unsupported = len(support.sentences) - support.supported_count
    return view.model_copy(update={"unsupported_sentences": unsupported})


def confidence_view(value: Any) -> ConfidenceView:
    return ConfidenceView(level=value.level, score=float(value.score), reason=str(value.reason))


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"
