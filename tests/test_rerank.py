"""Reranker: features on fixed passages, the fusion file and its digest, deterministic order, ACLs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.settings import load_settings
from knowledge.evaluation import CandidateSet, rank_metrics
from knowledge.knowledge_base import KnowledgeBase
from knowledge.rerank import (
    FEATURES,
    FUSION_FILE,
    FUSION_MAXSIM_FILE,
    FusionFileError,
    FusionWeights,
    Reranker,
    TokenVectorCache,
    build_reranker,
    feature_matrix,
    load_fusion,
    maxsim,
    save_fusion,
)
from knowledge.retrieval import RetrievedChunk
from knowledge.settings import RerankSettings
from knowledge.testing import shared_onnx_embedder
from routing.tiers import Tier

COL = {name: i for i, name in enumerate(FEATURES)}


def _chunk(
    chunk_id: str, text: str, *, dense: float | None, bm25: float | None, section: str = ""
) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=chunk_id,
        doc_id="d",
        version_id="v",
        title="Handbook",
        display_name="handbook.md",
        page=None,
        section=section,
        text=text,
        start=0,
        end=len(text),
        score=0.0,
        dense_similarity=dense,
        bm25_score=bm25,
        dense_rank=None,
        bm25_rank=None,
        tier=Tier.INTERNAL,
    )


QUESTION = "Which form HR-12 changes the home address?"
PASSAGES = [
    _chunk("a", "Lunch is served at noon in the canteen.", dense=0.30, bm25=None),
    _chunk("b", "Use form HR-12 to change your home address.", dense=0.62, bm25=8.0, section="Forms"),
    _chunk("c", "The home office allowance is paid monthly.", dense=0.50, bm25=2.0),
]


def _fusion(**weights: float) -> FusionWeights:
    return FusionWeights(
        features=FEATURES,
        bias=0.0,
        weights=tuple(weights.get(name, 0.0) for name in FEATURES),
        trained_on="test",
    )


def test_features_on_fixed_passages():
    x = feature_matrix(QUESTION, PASSAGES)
    assert x.shape == (3, len(FEATURES))
    lunch, form, office = x
    # A BM25-only candidate would be imputed below the lowest cosine; a dense-only one has no BM25.
    assert lunch[COL["bm25_missing"]] == 1 and lunch[COL["bm25_rel"]] == 0
    assert form[COL["bm25_rel"]] == 1.0 and office[COL["bm25_rel"]] == pytest.approx(0.25)
    assert form[COL["dense_gap_top"]] == 0 and form[COL["dense_gap_next"]] == pytest.approx(0.12)
    assert office[COL["dense_gap_top"]] == pytest.approx(-0.12)
    assert form[COL["exact"]] == 1.0 and lunch[COL["exact"]] == 0.0  # "HR-12" verbatim
    assert form[COL["coverage"]] > office[COL["coverage"]] > lunch[COL["coverage"]] == 0
    assert form[COL["bigram"]] > 0 and lunch[COL["bigram"]] == 0
    assert form[COL["title_match"]] > 0  # "form" stems like the section title "Forms"
    assert list(x[:, COL["prior"]]) == pytest.approx([1.0, 2**-0.5, 3**-0.5])
    assert not x[:, COL["maxsim"]].any()


def test_missing_cosine_is_imputed_below_the_lowest_seen():
    chunks = [*PASSAGES[1:], _chunk("z", "form", dense=None, bm25=1.0)]
    x = feature_matrix("form", chunks)
    assert x[2, COL["dense_missing"]] == 1 and x[2, COL["dense"]] == pytest.approx(0.48)


def test_maxsim_is_mean_of_best_token_matches():
    query = np.eye(3)[:2]  # two query tokens
    passage = np.asarray([[1.0, 0, 0], [0, 0.6, 0.8]])
    assert maxsim(query, passage) == pytest.approx((1.0 + 0.6) / 2)
    assert maxsim(np.zeros((0, 3)), passage) == 0.0


def test_bundled_fusion_files_load_and_verify():
    for path in (FUSION_FILE, FUSION_MAXSIM_FILE):
        fusion = load_fusion(path)
        assert fusion.features == FEATURES and fusion.trained_on
        assert fusion.held_out  # how it did on questions it was not fitted on
    assert not load_fusion(FUSION_FILE).uses_maxsim
    assert load_fusion(FUSION_MAXSIM_FILE).uses_maxsim


def test_tampered_or_foreign_fusion_file_is_refused(tmp_path):
    data = json.loads(FUSION_FILE.read_text())
    data["weights"][0] += 1.0
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    with pytest.raises(FusionFileError, match="sha256"):
        load_fusion(tampered)
    foreign = save_fusion(_fusion(), tmp_path / "foreign.json").model_copy(update={"features": ("x",)})
    (tmp_path / "foreign.json").write_text(foreign.model_dump_json())
    with pytest.raises(FusionFileError, match="features"):
        load_fusion(tmp_path / "foreign.json")
    with pytest.raises(FusionFileError):
        load_fusion(tmp_path / "absent.json")
    # A file that does not verify turns reranking off; retrieval keeps its own order.
    assert build_reranker(RerankSettings(fusion_path=tampered), embedder=None) is None
    assert build_reranker(RerankSettings(enabled=False), embedder=None) is None


def test_fusion_reorders_and_ties_keep_retrieval_order():
    by_exact = Reranker(_fusion(exact=5.0)).rerank(QUESTION, PASSAGES)
    assert [c.chunk_id for c in by_exact] == ["b", "a", "c"]  # a and c tie: retrieval order
    top, second = by_exact[0].rerank_score, by_exact[1].rerank_score
    assert top is not None and second is not None and top > second
    flat = Reranker(_fusion()).rerank(QUESTION, PASSAGES)
    assert [c.chunk_id for c in flat] == ["a", "b", "c"]
    bundled = Reranker(load_fusion())
    first = [c.chunk_id for c in bundled.rerank(QUESTION, PASSAGES)]
    assert first == [c.chunk_id for c in bundled.rerank(QUESTION, PASSAGES)]
    assert first[0] == "b" and sorted(first) == ["a", "b", "c"]


def test_late_interaction_fusion_refuses_to_run_without_token_vectors():
    with pytest.raises(ValueError, match="token vectors"):
        Reranker(_fusion(maxsim=1.0))


class _CountingEmbedder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def token_vectors(self, texts):
        self.calls.append(list(texts))
        return [np.full((2, 3), float(len(t))) for t in texts]


def test_token_vector_cache_computes_each_passage_once_and_evicts_oldest():
    embedder = _CountingEmbedder()
    cache = TokenVectorCache(embedder, max_entries=2)
    assert [v[0, 0] for v in cache.passages(["a", "bb", "a"])] == [1.0, 2.0, 1.0]
    cache.passages(["bb", "ccc"])  # "a" is now the least recently used: evicted
    cache.passages(["a"])
    assert embedder.calls == [["a", "bb"], ["ccc"], ["a"]]


def test_rank_metrics_before_and_after():
    x = np.zeros((3, len(FEATURES)))
    x[2, COL["exact"]] = 1.0
    sets = [
        CandidateSet(question_id="q1", article="A", split="train", gold=2, features=x.tolist()),
        CandidateSet(question_id="q2", article="A", split="train", gold=None, features=x.tolist()),
    ]
    before, after = rank_metrics(sets), rank_metrics(sets, _fusion(exact=1.0))
    assert (before.recall_at_1, before.recall_at_5, before.mrr_at_10) == (
        0.0,
        0.5,
        pytest.approx(1 / 6, abs=1e-4),
    )
    assert (after.recall_at_1, after.mrr_at_10) == (0.5, 0.5)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_reranking_keeps_access_control_and_only_reorders(data_dir, tmp_path):
    settings = load_settings(data_dir=data_dir)
    kb = KnowledgeBase(
        settings,
        open_database(GovernanceSettings(), data_dir),
        lambda _t: Tier.INTERNAL,
        embedder=shared_onnx_embedder(),
    )
    secret = _write(tmp_path / "salaries.md", "# Salaries\n\nThe salary band for engineers is 90k.")
    kb.ingest_file(secret, owner="hr-admin", groups=("hr",))
    for i in range(6):
        text = f"# Handbook {i}\n\nThe engineering salary review happens in spring, step {i} of six."
        kb.ingest_file(_write(tmp_path / f"handbook{i}.md", text), owner="admin", public=True)
    bob, alice = Principal(user_id="bob"), Principal(user_id="alice", groups=frozenset({"hr"}))
    question = "What is the salary band for engineers?"
    assert kb.search(question, alice, k=1)[0].display_name == "salaries.md"
    reranked = kb.search(question, bob, k=20)
    assert reranked and all(c.display_name.startswith("handbook") for c in reranked)
    assert reranked[0].rerank_score is not None
    settings.knowledge.retrieval.rerank.enabled = False
    plain = kb.search(question, bob, k=20)
    assert plain[0].rerank_score is None
    assert {c.chunk_id for c in plain} == {c.chunk_id for c in reranked}


def test_late_interaction_with_real_minilm_token_vectors():
    embedder = shared_onnx_embedder()
    vectors = embedder.token_vectors(["Use form HR-12.", "Lunch is served at noon."])
    assert [v.shape[1] for v in vectors] == [384, 384]
    assert np.allclose(np.linalg.norm(vectors[0], axis=1), 1.0, atol=1e-4)
    assert maxsim(vectors[0], vectors[0]) == pytest.approx(1.0, abs=1e-4)
    reranker = build_reranker(RerankSettings(late_interaction=True), embedder)
    assert reranker is not None and reranker.fusion.uses_maxsim
    order = [c.chunk_id for c in reranker.rerank(QUESTION, PASSAGES)]
    assert order[0] == "b" and sorted(order) == ["a", "b", "c"]


def test_eval_rag_reports_before_and_after_per_split(tmp_path):
    from knowledge.evaluation import evaluate_corpora

    corpus = tmp_path / "tiny"
    (corpus / "docs").mkdir(parents=True)
    (corpus / "docs" / "a.md").write_text("# Leave\n\nParental leave lasts sixteen weeks.\n")
    (corpus / "docs" / "b.md").write_text("# Travel\n\nTrain tickets are booked by the office.\n")
    rows = [
        ("q1", "How long is parental leave?", "a", "Parental leave lasts sixteen weeks.", "train"),
        ("q2", "Who books train tickets?", "b", "Train tickets are booked by the office.", "heldout"),
    ]
    (corpus / "qa.jsonl").write_text(
        "".join(
            json.dumps(
                {"id": i, "question": q, "is_impossible": False, "doc_file": f"docs/{d}.md"}
                | {"doc_title": d, "gold_paragraph": g, "split": s}
            )
            + "\n"
            for i, q, d, g, s in rows
        )
    )
    block = evaluate_corpora([corpus], scratch_database=lambda d: open_database(GovernanceSettings(), d))[
        "tiny"
    ]
    assert block["train before"].startswith("recall@1 1.000") and "(n=1)" in block["heldout after"]
    assert "late interaction" in " ".join(block) and "rerank ms p50/p95 (20 candidates)" in block
