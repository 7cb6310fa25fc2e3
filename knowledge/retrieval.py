"""Hybrid retrieval: dense (Chroma) + lexical (BM25) fused by reciprocal rank, then exact-match boost.

Access control is inside both queries (the dense side in `dense_search`: the ACL applied before
its top n, falling back to a Chroma `where` filter; a BM25 score mask built from the same
principal, see `access`); nothing here filters results after top-k for access. The
exact-match boost is deterministic: quoted phrases, identifiers and numbers in the question that
appear verbatim in a candidate add to its fused score, scaled by the share found. When reranking is
on (`settings.rerank`), the top `rerank.candidates` of that list are reordered by `knowledge.rerank`
(which reorders only what access control already let through) and the first k are returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from knowledge.access import Principal, principal_tokens, sees_everything
from knowledge.dense_search import dense_search
from knowledge.embeddings import Embedder
from knowledge.lexical import LexicalHit, LexicalIndex, lexical_tokens
from knowledge.settings import RerankSettings, RetrievalSettings
from knowledge.store import KnowledgeStore, StoredChunk
from models.base import YesNoJudge
from routing.tiers import Tier, highest

_QUOTED = re.compile(r"[\"“”‘’«»]([^\"“”«»]{2,200})[\"“”«»]")
_IDENTIFIER = re.compile(
    r"\b(?=[\w./-]*\d)(?=[\w./-]*[A-Za-z])[A-Za-z0-9][\w./-]*[A-Za-z0-9]\b|\b[A-Z]{2,}[0-9A-Z-]*\b"
)
_NUMBER = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")


class RetrievedChunk(BaseModel):
    model_config = ConfigDict(frozen=True)

    chunk_id: str
    doc_id: str
    version_id: str
    title: str
    display_name: str
    page: int | None
    section: str
    text: str
    start: int
    end: int
    score: float
    dense_similarity: float | None
    bm25_score: float | None
    dense_rank: int | None
    bm25_rank: int | None
    exact_matches: tuple[str, ...] = ()
    # Share of the question's content words present in this chunk (an answerability signal).
    coverage: float = 0.0
    # The reranker's calibrated probability that this passage holds the answer (None: not reranked).
    rerank_score: float | None = None
    tier: Tier
    hidden: bool = False

    @property
    def locator(self) -> str:
        return f"page {self.page}" if self.page is not None else self.section


def exact_terms(query: str) -> list[str]:
    """Quoted phrases, identifiers (letters and digits mixed, ALL-CAPS codes) and numbers, in order."""
    found: list[str] = [m.group(1).strip() for m in _QUOTED.finditer(query)]
    found += [m.group() for m in _IDENTIFIER.finditer(query)]
    found += [m.group() for m in _NUMBER.finditer(query)]
    unique: list[str] = []
    for term in found:
        # "2024" inside "HR-2024-17" is not a separate requirement.
        if term and not any(term.lower() in kept.lower() for kept in unique):
            unique.append(term)
    return unique


def term_present(text: str, term: str) -> bool:
    """The term occurs as a whole word (or phrase), case-insensitively."""
    return re.search(r"(?<!\w)" + re.escape(term) + r"(?!\w)", text, re.IGNORECASE) is not None


class HybridRetriever:
    def __init__(
        self,
        *,
        store: KnowledgeStore,
        lexical: Callable[[], LexicalIndex],
        embedder: Embedder,
        settings: RetrievalSettings,
        visible_versions: Callable[[], set[str]],
        judge_model: YesNoJudge | None = None,
    ) -> None:
        self.store = store
        self._lexical = lexical
        self.embedder = embedder
        self.settings = settings
        self._visible_versions = visible_versions
        # The private model, for the relevance judge (`rerank.judge = "auto"`); None: never judged.
        self.judge_model = judge_model

    def search(
        self, query: str, principal: Principal, k: int = 5, *, rerank: bool | None = None
    ) -> list[RetrievedChunk]:
        """`rerank` overrides the setting for this call (an A/B variant); None keeps it."""
        if not query.strip() or k <= 0:
            return []
        rerank_settings = self.settings.rerank
        if rerank is not None:
            rerank_settings = rerank_settings.model_copy(update={"enabled": rerank})
        # The reranker needs its own candidate list (more than k) to have something to reorder.
        pool = max(k, rerank_settings.candidates) if rerank_settings.enabled else k
        n = max(self.settings.candidates, pool)
        bypass = sees_everything(principal, admins_see_everything=self.settings.admins_see_everything)
        allowed_tokens = None if bypass else principal_tokens(principal)
        lexical = self._lexical()
        dense = dense_search(
            self.store,
            self.embedder.embed([query])[0],
            principal,
            n=n,
            readable=lambda ids: lexical.readable(ids, allowed_tokens),
            admins_see_everything=self.settings.admins_see_everything,
            fetch=False,
        ).chunks
        lexical_hits = lexical.search(query, allowed_tokens=allowed_tokens, k=n)
        fused = self._fuse(query, dense, lexical_hits, pool)
        return self._rerank(query, fused, rerank_settings)[:k]

    def _rerank(
        self, query: str, fused: list[RetrievedChunk], settings: RerankSettings | None = None
    ) -> list[RetrievedChunk]:
        # Imported here: rerank builds on this module's types (RetrievedChunk, exact_terms).
        from knowledge.rerank import build_reranker

        reranker = build_reranker(settings or self.settings.rerank, self.embedder, self.judge_model)
        return reranker.rerank(query, fused) if reranker is not None else fused

    def _fuse(
        self, query: str, dense: list[StoredChunk], lexical_hits: list[LexicalHit], k: int
    ) -> list[RetrievedChunk]:
        rrf_k = self.settings.rrf_k
        # Dense hits may be stubs (id and similarity): text and metadata come in one read below.
        by_id: dict[str, StoredChunk] = {chunk.chunk_id: chunk for chunk in dense if chunk.metadata}
        similarity = {chunk.chunk_id: chunk.similarity for chunk in dense}
        dense_rank = {chunk.chunk_id: rank for rank, chunk in enumerate(dense, start=1)}
        bm25_rank = {hit.chunk_id: rank for rank, hit in enumerate(lexical_hits, start=1)}
        bm25_score = {hit.chunk_id: hit.score for hit in lexical_hits}
        wanted = [chunk.chunk_id for chunk in dense] + [hit.chunk_id for hit in lexical_hits]
        missing = list(dict.fromkeys(i for i in wanted if i not in by_id))
        for chunk in self.store.get(missing):
            by_id[chunk.chunk_id] = chunk.model_copy(update={"similarity": similarity.get(chunk.chunk_id)})
        # Chunks of a version still being written (or just retired) are not part of the knowledge base.
        visible = self._visible_versions()
        terms = exact_terms(query)
        query_words = set(lexical_tokens(query))
        fused: list[RetrievedChunk] = []
        for chunk_id, chunk in by_id.items():
            if str(chunk.metadata.get("version_id")) not in visible:
                continue
            score = sum(
                1.0 / (rrf_k + ranks[chunk_id]) for ranks in (dense_rank, bm25_rank) if chunk_id in ranks
            )
            matches = tuple(term for term in terms if term_present(chunk.text, term))
            if terms:
                score += self.settings.exact_match_boost * len(matches) / len(terms)
            coverage = (
                len(query_words & set(lexical_tokens(chunk.text))) / len(query_words) if query_words else 0.0
            )
            ranks = (dense_rank.get(chunk_id), bm25_rank.get(chunk_id), bm25_score.get(chunk_id))
            fused.append(_to_retrieved(chunk, score, ranks, matches, coverage))
        fused.sort(key=lambda c: (-c.score, c.chunk_id))
        return fused[:k]


def _to_retrieved(
    chunk: StoredChunk,
    score: float,
    ranks: tuple[int | None, int | None, float | None],
    matches: tuple[str, ...],
    coverage: float,
) -> RetrievedChunk:
    dense_rank, bm25_rank, bm25_score = ranks
    meta = chunk.metadata
    page = int(meta.get("page", -1))
    return RetrievedChunk(
        chunk_id=chunk.chunk_id,
        doc_id=str(meta.get("doc_id", "")),
        version_id=str(meta.get("version_id", "")),
        title=str(meta.get("title", "")),
        display_name=str(meta.get("display_name", "")),
        page=page if page > 0 else None,
        section=str(meta.get("section", "")),
        text=chunk.text,
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        score=score,
        dense_similarity=chunk.similarity if dense_rank is not None else None,
        bm25_score=bm25_score,
        dense_rank=dense_rank,
        bm25_rank=bm25_rank,
        exact_matches=matches,
        coverage=coverage,
        tier=highest(str(meta.get("tier", "regulated"))),
        hidden=bool(meta.get("hidden", False)),
    )


def context_tier(chunks: list[RetrievedChunk]) -> Tier:
    """The taint of a turn that uses these chunks: the most sensitive of them."""
    return highest(*(chunk.tier for chunk in chunks))
