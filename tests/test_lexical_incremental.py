"""The incremental BM25 index: its scores equal a full rebuild's (and bm25s's, the old index),
after appends and retired versions, across a save and load, with the ACL mask before top-k."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import numpy as np
import pytest

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.settings import load_settings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.lexical import LexicalIndex, lexical_tokens
from knowledge.lexical_sync import rebuild_lexical
from knowledge.testing import HashingEmbedder
from routing.tiers import Tier

WORDS = "leave salary pension travel expense laptop holiday audit review budget invoice team".split()
QUERIES = ["salary review", "travel expense laptop", "pension pension audit", "holiday", "unknown words"]


def _corpus(seed: int, versions: int, per_version: int) -> list[tuple[str, str, str, list[str]]]:
    rng = random.Random(seed)
    rows = []
    for v in range(versions):
        acl = ["public"] if v % 3 == 0 else [f"group:g{v % 2}"]
        for c in range(per_version):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12)))
            rows.append((f"v{seed}x{v}:{c:06d}", f"v{seed}x{v}", text, acl))
    return rows


def _fill(index: LexicalIndex, rows: list[tuple[str, str, str, list[str]]]) -> None:
    index.add([r[0] for r in rows], [r[2] for r in rows], [r[3] for r in rows], [r[1] for r in rows])


def _by_id(index: LexicalIndex, query: str) -> dict[str, float]:
    hits = index.search(query, allowed_tokens=None, k=10_000)
    return {hit.chunk_id: hit.score for hit in hits}


def test_scores_equal_bm25s_on_the_same_corpus(tmp_path: Path) -> None:
    import bm25s

    rows = _corpus(1, 6, 20)
    index = LexicalIndex(tmp_path / "lex")
    index.build("f", [r[0] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    model = bm25s.BM25()
    model.index([lexical_tokens(r[2]) or ["\u2400"] for r in rows], show_progress=False)
    for query in QUERIES[:4]:
        tokens = lexical_tokens(query)
        expected = np.asarray(model.get_scores(tokens), dtype=np.float64)
        np.testing.assert_allclose(index.scores(tokens), expected, rtol=1e-5, atol=1e-6)


def test_appends_and_retired_versions_score_like_a_full_rebuild(tmp_path: Path) -> None:
    first, second = _corpus(2, 5, 15), _corpus(3, 4, 15)
    incremental = LexicalIndex(tmp_path / "inc")
    _fill(incremental, first)
    _fill(incremental, second)
    retired = {"v2x1", "v3x0"}
    assert incremental.remove_versions(retired) == 30
    full = LexicalIndex(tmp_path / "full")
    _fill(full, [r for r in first + second if r[1] not in retired])
    assert len(incremental) == len(full) == 105
    for query in QUERIES:
        got, expected = _by_id(incremental, query), _by_id(full, query)
        assert got.keys() == expected.keys()
        assert not any(chunk_id.split(":")[0] in retired for chunk_id in got)
        for chunk_id, score in expected.items():
            assert got[chunk_id] == pytest.approx(score, rel=1e-12)


def test_save_and_load_keep_scores_rows_and_mask(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lex")
    _fill(index, _corpus(4, 6, 10))
    index.remove_versions({"v4x2"})
    index.fingerprint = "abc"
    index.save()
    loaded = LexicalIndex(tmp_path / "lex")
    assert loaded.load() and loaded.fingerprint == "abc"
    assert loaded.versions() == index.versions()
    for query in QUERIES:
        for allowed in (None, {"public"}, {"group:g1"}):
            a = index.search(query, allowed_tokens=allowed, k=7)
            b = loaded.search(query, allowed_tokens=allowed, k=7)
            assert a == b


def test_the_mask_applies_before_top_k(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lex")
    hidden = [(f"h:{i:06d}", "h", "salary salary salary review", ["group:hr"]) for i in range(50)]
    mine = [(f"m:{i:06d}", "m", "salary note " + "x " * i, ["group:eng"]) for i in range(3)]
    _fill(index, hidden + mine)
    hits = index.search("salary review", allowed_tokens={"group:eng"}, k=2)
    assert [hit.chunk_id for hit in hits] == ["m:000000", "m:000001"]


def test_an_ingest_after_a_search_syncs_by_the_delta_and_equals_a_rebuild(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = open_database(GovernanceSettings(), data_dir)
    kb = KnowledgeBase(
        load_settings(data_dir=data_dir), engine, lambda _t: Tier.PUBLIC, embedder=HashingEmbedder()
    )
    alice = Principal(user_id="alice", groups=frozenset({"hr"}))
    for name, body in (("leave", "Parental leave is sixteen weeks."), ("pay", "Salary is paid monthly.")):
        doc = tmp_path / f"{name}.md"
        doc.write_text(textwrap.dedent(f"# {name.title()}\n\n{body}\n"))
        kb.ingest_file(doc, owner="alice", groups=["hr"])
        assert kb.search("leave salary", alice)
    # From here on a full rebuild would fail the test: only the delta may be read.
    monkeypatch.setattr(LexicalIndex, "build", lambda *a, **k: pytest.fail("full rebuild on the query path"))
    doc = tmp_path / "travel.md"
    doc.write_text("# Travel\n\nTravel expenses and salary advances are claimed within a month.\n")
    kb.ingest_file(doc, owner="alice", groups=["hr"])
    kb.delete_document(kb.list_documents(alice)[0].doc_id, alice)
    synced = kb.lexical_index()
    monkeypatch.undo()
    fresh = rebuild_lexical(
        LexicalIndex(tmp_path / "fresh"),
        kb.store,
        fingerprint="x",
        visible=kb.registry.committed_versions(),
    )
    assert len(synced) == len(fresh) == 2
    for query in ("salary", "travel salary advances", "parental leave"):
        assert synced.search(query, allowed_tokens={"group:hr"}, k=10) == fresh.search(
            query, allowed_tokens={"group:hr"}, k=10
        )
    engine.dispose()
