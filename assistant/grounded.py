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

    def search(self, query: str, principal: Principal, k: int = 5) -> list[RetrievedChunk]: ...

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
    """What retrieval found for one turn."""

    chunks: list[RetrievedChunk] = field(default_factory=list)
    answerable: bool = False

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


def confidence_view(value: Any) -> ConfidenceView:
    return ConfidenceView(level=value.level, score=float(value.score), reason=str(value.reason))


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"
