"""A knowledge base with nothing ingested answers a search with nothing at once: no query
embedding, no vector search (issue 17: CPU per turn). Once a document is in, it is searched."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.settings import load_settings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.testing import HashingEmbedder
from routing.tiers import Tier

ALICE = Principal(user_id="alice", groups=frozenset({"hr"}))


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.queries = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.queries += 1
        return super().embed(texts)


def test_an_empty_knowledge_base_is_not_searched(data_dir: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    engine = open_database(GovernanceSettings(), data_dir)
    kb = KnowledgeBase(load_settings(data_dir=data_dir), engine, lambda _t: Tier.PUBLIC, embedder=embedder)
    assert kb.search("parental leave", ALICE) == []
    assert embedder.queries == 0
    doc = tmp_path / "leave.md"
    doc.write_text(textwrap.dedent("# Leave\n\nParental leave is sixteen weeks at full pay.\n"))
    kb.ingest_file(doc, owner="alice", groups=["hr"])
    hits = kb.search("parental leave", ALICE)
    assert hits and "sixteen weeks" in hits[0].text
    engine.dispose()


def test_a_search_reads_the_committed_versions_once(data_dir: Path, tmp_path: Path) -> None:
    """The lexical sync and the visibility filter share one read of the registry; the lexical index
    is keyed exactly as `DocumentRegistry.fingerprint()` keys it."""
    engine = open_database(GovernanceSettings(), data_dir)
    kb = KnowledgeBase(
        load_settings(data_dir=data_dir), engine, lambda _t: Tier.PUBLIC, embedder=HashingEmbedder()
    )
    doc = tmp_path / "leave.md"
    doc.write_text("# Leave\n\nParental leave is sixteen weeks at full pay.\n")
    kb.ingest_file(doc, owner="alice", groups=["hr"])
    reads = 0
    committed_versions = kb.registry.committed_versions

    def counted() -> set[str]:
        nonlocal reads
        reads += 1
        return committed_versions()

    kb.registry.committed_versions = counted  # type: ignore[method-assign]
    assert "sixteen weeks" in kb.search("parental leave", ALICE)[0].text
    assert reads == 1
    assert kb._lexical.fingerprint == kb.registry.fingerprint()
    engine.dispose()
