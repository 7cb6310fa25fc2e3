"""`KnowledgeBase`: the one object the app talks to for documents, search and grounding.

It owns the registry (in the app's database), the Chroma collection, the BM25 cache and the
embedder. Crash safety comes from the write order in `ingest_file`: registry row `pending` →
chunks into Chroma → row `committed` (old version `superseded`) in one transaction → old chunks
removed. `recover()` (run at start-up) deletes whatever a crash left half-done. The embedded
Chroma is owned by one process: never open the same data directory from two processes at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from knowledge.access import Principal, may_read
from knowledge.chunking import TextChunk, approximate_tokens, chunk_document
from knowledge.citations import CitationReport, check_citations
from knowledge.confidence import Confidence, answerability, assess_confidence
from knowledge.embeddings import Embedder, build_embedder
from knowledge.grounding import GroundedPrompt, Source, build_grounded_prompt
from knowledge.ingestion import Classifier, chunk_records, indexed_text
from knowledge.lexical import LexicalIndex
from knowledge.lexical_sync import sync_lexical
from knowledge.parsing import DocumentRejected, ParsedDocument, parse_document_safely, safe_display_name
from knowledge.registry import DocumentRegistry, KnowledgeDocument, document_id_for
from knowledge.retrieval import HybridRetriever, RetrievedChunk
from knowledge.settings import KnowledgeSettings
from knowledge.store import KnowledgeStore, open_client
from models.base import YesNoJudge
from models.files import sha256_of
from routing.tiers import Tier, highest

log = logging.getLogger(__name__)
IngestStatus = Literal["added", "replaced", "unchanged", "rejected", "failed"]


class KnowledgeHost(Protocol):
    """What the knowledge base needs from the app's settings tree (the app's root settings
    satisfy it), named here so this package never imports the app."""

    @property
    def knowledge(self) -> KnowledgeSettings: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def chroma_dir(self) -> Path: ...


class IngestResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: IngestStatus
    display_name: str
    doc_id: str | None = None
    title: str | None = None
    chunks: int = 0
    tier: str | None = None
    # One sentence for the user when status is rejected or failed.
    reason: str | None = None
    warnings: tuple[str, ...] = ()


class DocumentInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    title: str
    display_name: str
    kind: str
    owner: str
    groups: tuple[str, ...]
    public: bool
    tier: str
    chunks: int
    pages: int | None
    sha256: str
    source: str

    @classmethod
    def of(cls, row: KnowledgeDocument) -> DocumentInfo:
        return cls(
            doc_id=row.doc_id,
            title=row.title,
            display_name=row.display_name,
            kind=row.kind,
            owner=row.owner,
            groups=tuple(row.groups),
            public=row.public,
            tier=row.tier,
            chunks=row.chunk_count,
            pages=row.page_count,
            sha256=row.sha256,
            source=row.source,
        )


class KnowledgeBase:
    def __init__(
        self,
        settings: KnowledgeHost,
        engine: Engine,
        classify: Classifier,
        *,
        embedder: Embedder | None = None,
        chroma_client: Any | None = None,
    ) -> None:
        """`settings` holds the knowledge section and the data paths; `classify(text) -> Tier` is
        the gate."""
        self.settings = settings
        self.config = settings.knowledge
        self.classify = classify
        self.registry = DocumentRegistry(engine)
        client = chroma_client or open_client(self.config.chroma, settings.chroma_dir)
        self.store = KnowledgeStore(client, self.config.chroma.collection)
        self._embedder = embedder
        self._lexical = LexicalIndex(Path(settings.data_dir) / "lexical")
        self._lexical.load()
        # The private model for the relevance judge, set by the app once it has one (off: None).
        self.judge_model: YesNoJudge | None = None
        self.recover()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = build_embedder(self.config.embedding)
        return self._embedder

    @property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(
            store=self.store,
            lexical=self.lexical_index,
            embedder=self.embedder,
            settings=self.config.retrieval,
            visible_versions=self.registry.committed_versions,
            judge_model=self.judge_model,
        )

    def _retriever_at(self, visible: set[str]) -> HybridRetriever:
        """A retriever over one read of the committed versions (the lexical sync and the
        visibility filter used to read them from the database once each per query)."""
        lexical = self._lexical_at(visible)
        return HybridRetriever(
            store=self.store,
            lexical=lambda: lexical,
            embedder=self.embedder,
            settings=self.config.retrieval,
            visible_versions=lambda: visible,
            judge_model=self.judge_model,
        )

    # -- ingestion -------------------------------------------------------------------------

    def ingest_file(
        self,
        path: Path,
        *,
        owner: str,
        groups: Iterable[str] = (),
        public: bool = False,
        display_name: str | None = None,
        source: str | None = None,
    ) -> IngestResult:
        """Parse, chunk, classify, embed and store one file; never raises for a bad file."""
        name = safe_display_name(display_name if display_name is not None else Path(path).name)
        group_list = sorted(set(groups))
        source = source or (
            f"upload:{owner}/{name}" if display_name is not None else str(Path(path).resolve())
        )
        doc_id = document_id_for(source)
        current = self.registry.committed(doc_id)
        try:
            sha = sha256_of(Path(path))
        except OSError:
            return IngestResult(status="rejected", display_name=name, reason="I couldn't open this file.")
        acl_key = json.dumps([owner, group_list, public])
        if current is not None and current.sha256 == sha and current.acl_key == acl_key:
            return IngestResult(
                status="unchanged",
                display_name=name,
                doc_id=doc_id,
                title=current.title,
                chunks=current.chunk_count,
                tier=current.tier,
            )
        try:
            parsed = parse_document_safely(Path(path), display_name=name, settings=self.config.parsing)
        except DocumentRejected as exc:
            log.info("rejected %s: %s", name, exc.detail)
            return IngestResult(status="rejected", display_name=name, doc_id=doc_id, reason=exc.user_message)
        return self.ingest_parsed(
            parsed,
            doc_id=doc_id,
            source=source,
            owner=owner,
            groups=group_list,
            public=public,
            replacing=current,
        )

    def ingest_parsed(
        self,
        parsed: ParsedDocument,
        *,
        doc_id: str,
        source: str,
        owner: str,
        groups: Sequence[str],
        public: bool,
        replacing: KnowledgeDocument | None = None,
        section_tiers: Sequence[Tier] | None = None,
    ) -> IngestResult:
        """Store an already parsed document as the committed version of `doc_id`.

        `section_tiers` (one per section, e.g. from upload intake) spares the gate a second pass:
        each chunk gets the highest tier of the sections it overlaps."""
        version_id = uuid.uuid4().hex
        row = KnowledgeDocument(
            version_id=version_id,
            doc_id=doc_id,
            source=source,
            title=parsed.title,
            display_name=parsed.display_name,
            kind=parsed.kind,
            sha256=parsed.sha256,
            size_bytes=parsed.size_bytes,
            owner=owner,
            groups_json=json.dumps(sorted(set(groups))),
            public=public,
            page_count=parsed.page_count,
        )
        self.registry.add_pending(row)
        try:
            tier, count = self._write_chunks(parsed, row, section_tiers, replacing)
        except Exception:
            log.exception("ingestion of %s failed; rolling back", parsed.display_name)
            self._discard_version(version_id)
            return IngestResult(
                status="failed",
                display_name=parsed.display_name,
                doc_id=doc_id,
                reason="Something went wrong while indexing this file.",
            )
        self.registry.commit_version(version_id, chunk_count=count, tier=tier)
        if replacing is not None:
            self._discard_version(replacing.version_id)
        return IngestResult(
            status="replaced" if replacing is not None else "added",
            display_name=parsed.display_name,
            doc_id=doc_id,
            title=parsed.title,
            chunks=count,
            tier=tier,
            warnings=parsed.warnings,
        )

    def _write_chunks(
        self,
        parsed: ParsedDocument,
        row: KnowledgeDocument,
        section_tiers: Sequence[Tier] | None,
        replacing: KnowledgeDocument | None = None,
    ) -> tuple[str, int]:
        chunking = self.config.chunking
        chunks = chunk_document(
            parsed, target_tokens=chunking.target_tokens, overlap_tokens=chunking.overlap_tokens
        )
        classify = self.classify if section_tiers is None else _known_tiers(parsed, chunks, section_tiers)
        records = chunk_records(
            parsed,
            chunks,
            doc_id=row.doc_id,
            version_id=row.version_id,
            owner=row.owner,
            groups=row.groups,
            public=row.public,
            classify=classify,
        )
        texts = [indexed_text(r.metadata["title"], r.metadata["section"], r.text) for r in records]
        embeddings = self._embed_reusing(texts, replacing)
        self.store.add(
            [r.chunk_id for r in records],
            [r.text for r in records],
            embeddings,
            # Which model made the vector, so a later version reuses only vectors of the same model.
            [{**r.metadata, "embedding_model": self.embedder.model_id} for r in records],
        )
        tier = highest(*(r.metadata["tier"] for r in records)).value
        return tier, len(records)

    def _embed_reusing(self, texts: Sequence[str], replacing: KnowledgeDocument | None) -> list[list[float]]:
        """Vectors for `texts`; a text the replaced version already indexed keeps its stored vector
        (an edit leaves most sections as they were; a changed ACL leaves every one), the rest are
        embedded. Only vectors of this embedder's model are reused."""
        known: dict[str, list[float]] = {}
        if replacing is not None:
            for text, (meta, vector) in self.store.vectors_of_version(replacing.version_id).items():
                if meta.get("embedding_model") == self.embedder.model_id:
                    title, section = str(meta.get("title", "")), str(meta.get("section", ""))
                    known[indexed_text(title, section, text)] = vector
        missing = list(dict.fromkeys(text for text in texts if text not in known))
        if missing:
            known.update(zip(missing, self.embedder.embed(missing), strict=True))
        return [known[text] for text in texts]

    def _discard_version(self, version_id: str) -> None:
        # Chunks first, row last: if we crash in between, recover() finds the row and retries.
        self.store.delete_version(version_id)
        self.registry.forget(version_id)

    def recover(self) -> int:
        """Remove chunks and rows a crash left behind (pending or superseded versions)."""
        garbage = self.registry.garbage()
        for row in garbage:
            log.warning("removing leftover %s version of %s", row.status, row.display_name)
            self._discard_version(row.version_id)
        return len(garbage)

    # -- documents -------------------------------------------------------------------------

    def list_documents(self, principal: Principal) -> list[DocumentInfo]:
        bypass = self.config.retrieval.admins_see_everything
        return [
            DocumentInfo.of(row)
            for row in self.registry.list_committed()
            if may_read(
                principal, owner=row.owner, groups=row.groups, public=row.public, admins_see_everything=bypass
            )
        ]

    def delete_document(self, doc_id: str, principal: Principal) -> bool:
        """Delete a document (its owner or an admin); False when it does not exist or is not theirs."""
        row = self.registry.committed(doc_id)
        if row is None or not (principal.is_admin or row.owner == principal.user_id):
            return False
        for version_id in self.registry.mark_superseded(doc_id):
            self._discard_version(version_id)
        return True

    # -- retrieval and grounding -------------------------------------------------------------

    def lexical_index(self) -> LexicalIndex:
        """The BM25 index, brought up to the committed chunks by the delta whenever the registry changed."""
        return self._lexical_at(self.registry.committed_versions())

    def _lexical_at(self, visible: set[str]) -> LexicalIndex:
        fingerprint = versions_fingerprint(visible)
        if self._lexical.fingerprint != fingerprint:
            sync_lexical(self._lexical, self.store, fingerprint=fingerprint, visible=visible)
        return self._lexical

    def search(
        self, query: str, principal: Principal, k: int = 5, *, rerank: bool | None = None
    ) -> list[RetrievedChunk]:
        visible = self.registry.committed_versions()
        if not visible:  # nothing committed: no query embedding, no vector search
            return []
        return self._retriever_at(visible).search(query, principal, k, rerank=rerank)

    def grounded_messages(
        self,
        question: str,
        chunks: Sequence[RetrievedChunk],
        *,
        count_tokens: Callable[[str], int] = approximate_tokens,
        system_prompt: str = "",
    ) -> GroundedPrompt:
        return build_grounded_prompt(
            question,
            chunks,
            count_tokens=count_tokens,
            budget_tokens=self.config.context_tokens,
            system_prompt=system_prompt,
        )

    def check_citations(self, answer: str, sources: Sequence[Source]) -> CitationReport:
        return check_citations(answer, sources)

    def answerability(self, chunks: Sequence[RetrievedChunk]) -> float:
        return answerability(chunks, self.config.confidence)

    def is_answerable(self, chunks: Sequence[RetrievedChunk]) -> bool:
        return self.answerability(chunks) >= self.config.confidence.answerable_threshold

    def confidence(
        self, chunks: Sequence[RetrievedChunk], report: CitationReport | None = None
    ) -> Confidence:
        return assess_confidence(chunks, report, self.config.confidence)


def versions_fingerprint(versions: Iterable[str]) -> str:
    """`DocumentRegistry.fingerprint()` of these committed versions (it keys the lexical index),
    from versions already read, so a query reads the registry once."""
    return hashlib.sha256("\n".join(sorted(versions)).encode()).hexdigest()


def _known_tiers(parsed: ParsedDocument, chunks: Sequence[TextChunk], tiers: Sequence[Tier]) -> Classifier:
    """A classifier answering from tiers already computed per section: a chunk is as sensitive as
    the most sensitive section it overlaps; a chunk matching no section is regulated (fail closed)."""
    if len(tiers) != len(parsed.sections):
        raise ValueError(f"{len(tiers)} section tiers for {len(parsed.sections)} sections")
    by_text: dict[str, Tier] = {}
    for chunk in chunks:
        overlapping = [
            tier
            for section, tier in zip(parsed.sections, tiers, strict=True)
            if section.start < chunk.end and chunk.start < section.end
        ]
        found = highest(*overlapping) if overlapping else Tier.REGULATED
        by_text[chunk.text] = highest(by_text.get(chunk.text, found), found)
    return lambda text: by_text.get(text, Tier.REGULATED)
