"""A replaced document keeps the stored vectors of the passages it still has (real Chroma and
SQLite; the ONNX embedder counted): a changed ACL embeds nothing, an edit embeds only what changed,
and search finds the new version exactly as after a fresh ingest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.settings import load_settings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.testing import shared_onnx_embedder
from routing.tiers import Tier

SECTIONS = {
    "Hours": "The office opens at 8 am and closes at 6 pm on weekdays.",
    "Lunch": "Lunch is served in the canteen at noon; soup on Mondays.",
    "Parking": "Staff park in the north garage with a badge from reception.",
}


class CountingEmbedder:
    def __init__(self) -> None:
        self.inner = shared_onnx_embedder()
        self.embedded: list[str] = []

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += texts
        return self.inner.embed(texts)


def _document(path: Path, sections: dict[str, str]) -> Path:
    path.write_text("# Handbook\n\n" + "\n\n".join(f"## {k}\n\n{v}" for k, v in sections.items()) + "\n")
    return path


def _kb(data_dir: Path, embedder: CountingEmbedder) -> KnowledgeBase:
    engine = open_database(GovernanceSettings(), data_dir)
    settings = load_settings(data_dir=data_dir)
    return KnowledgeBase(settings, engine, lambda _t: Tier.INTERNAL, embedder=embedder)


def _stored_vectors(kb: KnowledgeBase) -> dict[str, np.ndarray]:
    result = kb.store.collection.get(include=["documents", "embeddings"])
    return {text: np.asarray(v) for text, v in zip(result["documents"], result["embeddings"], strict=True)}


def test_acl_change_embeds_nothing_and_an_edit_only_what_changed(data_dir: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    kb = _kb(data_dir, embedder)
    doc = _document(tmp_path / "handbook.md", SECTIONS)
    assert kb.ingest_file(doc, owner="admin", groups=["hr"]).status == "added"
    first = _stored_vectors(kb)
    embedded_first = len(embedder.embedded)
    assert embedded_first >= 3

    assert kb.ingest_file(doc, owner="admin", public=True).status == "replaced"  # ACL only
    assert len(embedder.embedded) == embedded_first
    again = _stored_vectors(kb)
    assert again.keys() == first.keys()
    assert all(np.array_equal(again[text], first[text]) for text in first)

    _document(doc, {**SECTIONS, "Lunch": "Lunch is served in the canteen at one; fish on Fridays."})
    assert kb.ingest_file(doc, owner="admin", public=True).status == "replaced"
    new = embedder.embedded[embedded_first:]
    assert len(new) == 1 and "fish on Fridays" in new[0]
    hits = kb.search("when is lunch served in the canteen", Principal(user_id="carol"), k=5)
    assert "fish on Fridays" in hits[0].text
    assert kb.store.count() == len(first)


def test_vectors_of_another_model_are_not_reused(data_dir: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    kb = _kb(data_dir, embedder)
    doc = _document(tmp_path / "handbook.md", SECTIONS)
    kb.ingest_file(doc, owner="admin", groups=["hr"])
    count = len(embedder.embedded)
    rows = kb.store.collection.get(include=["metadatas"])
    metas = [{**m, "embedding_model": "another-model"} for m in rows["metadatas"]]
    kb.store.collection.update(ids=rows["ids"], metadatas=metas)
    kb.ingest_file(doc, owner="admin", public=True)
    assert len(embedder.embedded) == 2 * count
