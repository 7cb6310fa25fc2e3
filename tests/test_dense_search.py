"""Dense search with ACLs (real Chroma in a temp dir): over-fetch then filter must equal the
filtered query, even when hidden chunks dominate the neighbourhood of the question."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.access import Principal, acl_metadata, chroma_where, metadata_allows
from knowledge.dense_search import dense_search
from knowledge.settings import ChromaSettings
from knowledge.store import KnowledgeStore, open_client
from knowledge.testing import HashingEmbedder

EMBED = HashingEmbedder(64)
ALICE = Principal(user_id="alice", groups=frozenset({"eng"}))


def _store(tmp_path: Path, name: str = "dense") -> KnowledgeStore:
    return KnowledgeStore(open_client(ChromaSettings(), tmp_path / "chroma"), name)


def _add(store: KnowledgeStore, rows: list[tuple[str, str, dict[str, str | bool]]]) -> None:
    ids = [r[0] for r in rows]
    texts = [r[1] for r in rows]
    metas = [{**r[2], "version_id": "v"} for r in rows]
    store.add(ids, texts, EMBED.embed(texts), metas)


def _hidden_dominated(store: KnowledgeStore) -> None:
    """60 hidden chunks that match the question well, 8 readable ones that match it less."""
    hidden = acl_metadata(owner="mallory", groups=["hr"], public=False)
    mine = acl_metadata(owner="bob", groups=["eng"], public=False)
    rows = [(f"h{i:02d}", f"salary review salary bands {i}", hidden) for i in range(60)]
    rows += [(f"m{i}", _mine_text(i), mine) for i in range(8)]
    _add(store, rows)


def _mine_text(i: int) -> str:
    # Distinct distances (no ties, so the order is the same in any collection).
    return "salary policy for engineers " + " ".join(f"w{j}" for j in range(i))


def test_hidden_chunks_crowding_the_question_fall_back_to_the_filtered_query(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _hidden_dominated(store)
    query = EMBED.embed(["salary review salary"])[0]
    result = dense_search(store, query, ALICE, n=4, overfetch=3)
    filtered = store.query(query, where=chroma_where(ALICE), n=4)
    assert result.path == "filtered"
    assert [c.chunk_id for c in result.chunks] == [c.chunk_id for c in filtered]
    assert all(c.chunk_id.startswith("m") for c in result.chunks)


def test_the_answer_does_not_depend_on_what_is_hidden(tmp_path: Path) -> None:
    crowded = _store(tmp_path / "a")
    _hidden_dominated(crowded)
    alone = _store(tmp_path / "b")
    mine = acl_metadata(owner="bob", groups=["eng"], public=False)
    _add(alone, [(f"m{i}", _mine_text(i), mine) for i in range(8)])
    query = EMBED.embed(["salary review salary"])[0]
    for overfetch in (1, 3, 100):
        got = dense_search(crowded, query, ALICE, n=4, overfetch=overfetch).chunks
        expected = dense_search(alone, query, ALICE, n=4, overfetch=overfetch).chunks
        assert [c.chunk_id for c in got] == [c.chunk_id for c in expected]
        assert [c.text for c in got] == [c.text for c in expected]


def test_overfetch_answers_when_enough_readable_hits_and_matches_the_filter(tmp_path: Path) -> None:
    store = _store(tmp_path)
    public = acl_metadata(owner="x", groups=[], public=True)
    hidden = acl_metadata(owner="mallory", groups=["hr"], public=False)
    rows = [
        (f"p{i:02d}", "travel expense report " + " ".join(f"w{j}" for j in range(i)), public)
        for i in range(30)
    ]
    rows += [(f"h{i:02d}", f"holiday pension audit {i}", hidden) for i in range(30)]
    _add(store, rows)
    query = EMBED.embed(["travel expense"])[0]
    result = dense_search(store, query, ALICE, n=5, overfetch=4)
    filtered = store.query(query, where=chroma_where(ALICE), n=5)
    assert result.path == "overfetch"
    assert [c.chunk_id for c in result.chunks] == [c.chunk_id for c in filtered]
    assert [c.text for c in result.chunks] == [c.text for c in filtered]
    assert all(c.chunk_id.startswith("p") for c in result.chunks)


def test_small_collection_is_read_whole_without_the_filtered_query(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _hidden_dominated(store)
    query = EMBED.embed(["salary review salary"])[0]
    result = dense_search(store, query, ALICE, n=20, overfetch=10)
    assert result.path == "overfetch"
    assert sorted(c.chunk_id for c in result.chunks) == [f"m{i}" for i in range(8)]


def test_admin_bypass_only_when_allowed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _hidden_dominated(store)
    admin = Principal(user_id="root", role="admin")
    query = EMBED.embed(["salary review"])[0]
    assert dense_search(store, query, admin, n=3, admins_see_everything=True).path == "bypass"
    assert dense_search(store, query, admin, n=3, overfetch=100).chunks == []


@pytest.mark.parametrize(
    ("metadata", "allowed"),
    [
        (acl_metadata(owner="x", groups=[], public=True), True),
        (acl_metadata(owner="alice", groups=[], public=False), True),
        (acl_metadata(owner="x", groups=["eng", "hr"], public=False), True),
        (acl_metadata(owner="x", groups=["hr"], public=False), False),
        ({"acl_public": "true", "acl_owner": "x"}, False),
        ({}, False),
    ],
)
def test_metadata_allows_is_the_where_filter_as_a_predicate(
    metadata: dict[str, str | bool], allowed: bool
) -> None:
    assert metadata_allows(ALICE, metadata) is allowed


def test_the_lexical_index_rows_answer_the_acl_like_the_metadata(tmp_path: Path) -> None:
    from knowledge.access import principal_tokens
    from knowledge.lexical import LexicalIndex

    store = _store(tmp_path)
    _hidden_dominated(store)
    index = LexicalIndex(tmp_path / "lex")
    chunks = store.get([f"h{i:02d}" for i in range(60)] + [f"m{i}" for i in range(8)])
    tokens = [["owner:mallory", "group:hr"] if c.chunk_id.startswith("h") else ["group:eng"] for c in chunks]
    index.add([c.chunk_id for c in chunks], [c.text for c in chunks], tokens, ["v"] * len(chunks))
    allowed = principal_tokens(ALICE)
    query = EMBED.embed(["salary review salary"])[0]
    for overfetch in (1, 20):
        by_rows = dense_search(
            store, query, ALICE, n=4, overfetch=overfetch, readable=lambda ids: index.readable(ids, allowed)
        )
        by_metadata = dense_search(store, query, ALICE, n=4, overfetch=overfetch)
        assert by_rows == by_metadata
    assert index.readable(["m0", "h00", "not-indexed"], allowed) == [True, False, False]
