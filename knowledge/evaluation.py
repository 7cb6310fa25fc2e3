"""RAG evaluation on SQuAD 2.0-style data: retrieval recall@k / MRR and answerability AUROC.

Ingests `docs/` into a throw-away data directory, asks every question of `qa.jsonl` as a user who
sees the (public) corpus, and scores the gold paragraph's rank. A chunk counts as the gold
paragraph when their character spans overlap by at least half of the shorter of the two.
Nothing here tunes anything: `calibration.fit_answerability` does that, with held-out folds.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from knowledge.access import Principal
from knowledge.confidence import retrieval_signals
from knowledge.embeddings import Embedder
from knowledge.parsing import parse_document_safely
from knowledge.registry import DatabaseAt
from knowledge.rerank import (
    FEATURES,
    FUSION_FILE,
    FUSION_MAXSIM_FILE,
    FusionWeights,
    Reranker,
    feature_matrix,
    fusion_scores,
    load_fusion,
    maxsim,
    save_fusion,
    token_vectors,
)
from knowledge.retrieval import RetrievedChunk
from knowledge.settings import ChunkingSettings
from models.base import YesNoJudge
from routing.tiers import Tier

EVAL_USER = Principal(user_id="eval-reader")
# SQuAD is split by article: the rerank fusion is fitted on the others, reported on these.
SQUAD_HELD_OUT_ARTICLES = frozenset({"Southern_California", "Victoria_(Australia)"})


class QuestionOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    question_id: str
    article: str
    answerable: bool
    gold_rank: int | None
    answerability: float
    signals: list[float]


class RagEvalReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    questions: int
    answerable: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float
    auroc: float
    outcomes: list[QuestionOutcome]

    def summary(self) -> dict[str, float | int]:
        return self.model_dump(exclude={"outcomes"})


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    ranked = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        average_rank = (index + end + 1) / 2  # 1-based average rank of the tie group
        rank_sum += average_rank * sum(label for _, label in ranked[index:end])
        index = end
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def gold_rank(chunks: Sequence[RetrievedChunk], display_name: str, span: tuple[int, int]) -> int | None:
    for rank, chunk in enumerate(chunks, start=1):
        if chunk.display_name != display_name:
            continue
        overlap = min(chunk.end, span[1]) - max(chunk.start, span[0])
        if overlap >= 0.5 * min(chunk.end - chunk.start, span[1] - span[0]):
            return rank
    return None


def run_rag_eval(
    data: Path,
    *,
    scratch_database: DatabaseAt,
    embedder: Embedder | None = None,
    work_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RagEvalReport:
    from knowledge.host_settings import load_settings
    from knowledge.knowledge_base import KnowledgeBase

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        settings = load_settings(data_dir=Path(tmp))
        engine = scratch_database(Path(tmp))
        kb = KnowledgeBase(settings, engine, classify=lambda _text: Tier.PUBLIC, embedder=embedder)
        docs = sorted((data / "docs").glob("*.md"))
        for doc in docs:
            kb.ingest_file(doc, owner="eval-admin", public=True)
        texts = {doc.name: parse_document_safely(doc).text for doc in docs}
        questions = [
            json.loads(line) for line in (data / "qa.jsonl").read_text().splitlines() if line.strip()
        ]
        outcomes = []
        for number, item in enumerate(questions, start=1):
            outcomes.append(_ask(kb, item, texts))
            if progress and number % 100 == 0:
                progress(number, len(questions))
        engine.dispose()
    return _report(outcomes)


def _ask(kb: object, item: dict[str, object], texts: dict[str, str]) -> QuestionOutcome:
    chunks = kb.search(str(item["question"]), EVAL_USER, k=10)  # type: ignore[attr-defined]
    name = Path(str(item["doc_file"])).name
    text = texts[name]
    start = text.find(str(item["gold_paragraph"]))
    span = (start, start + len(str(item["gold_paragraph"]))) if start >= 0 else (0, 0)
    return QuestionOutcome(
        question_id=str(item["id"]),
        article=str(item["doc_title"]),
        answerable=not item["is_impossible"],
        gold_rank=gold_rank(chunks, name, span) if start >= 0 else None,
        answerability=kb.answerability(chunks[:5]),  # type: ignore[attr-defined]
        signals=retrieval_signals(chunks[:5]).as_vector(),
    )


class CandidateSet(BaseModel):
    """One question's hybrid candidates (retrieval order), their features, and where the gold one is."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    article: str
    split: str
    # False for SQuAD 2.0's unanswerable questions (gold is then None): answerability only.
    answerable: bool = True
    gold: int | None
    features: list[list[float]]
    # The question and its candidates' texts (retrieval order): what a relevance judge reads.
    question: str = ""
    texts: list[str] = []
    # Wall time of hybrid retrieval, and of reranking its candidates with the bundled fusion.
    retrieval_ms: float = 0.0
    rerank_ms: float = 0.0


class RankMetrics(BaseModel):
    model_config = ConfigDict(frozen=True)

    questions: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float


def rank_metrics(sets: Sequence[CandidateSet], fusion: FusionWeights | None = None) -> RankMetrics:
    """Recall@1/@5 and MRR@10 of the gold passage in retrieval order, or in the fusion's order."""
    ranks = [_gold_rank_after(s, fusion) for s in sets if s.answerable]
    n = max(len(ranks), 1)
    return RankMetrics(
        questions=len(ranks),
        recall_at_1=round(sum(r == 1 for r in ranks) / n, 4),
        recall_at_5=round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        mrr_at_10=round(sum(1.0 / r for r in ranks if r is not None and r <= 10) / n, 4),
    )


def _gold_rank_after(candidates: CandidateSet, fusion: FusionWeights | None) -> int | None:
    if candidates.gold is None:
        return None
    if fusion is None:
        return candidates.gold + 1
    scores = fusion_scores(fusion, np.asarray(candidates.features, dtype=np.float64))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return order.index(candidates.gold) + 1


def collect_candidates(
    data: Path,
    *,
    scratch_database: DatabaseAt,
    n: int = 20,
    embedder: Embedder | None = None,
    token_vectors: bool = True,
    work_dir: Path | None = None,
    chunking: ChunkingSettings | None = None,
) -> list[CandidateSet]:
    """Every question's hybrid top-n without reranking, with every rerank feature computed."""
    from knowledge.host_settings import load_settings
    from knowledge.knowledge_base import KnowledgeBase

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        settings = load_settings(data_dir=Path(tmp))
        settings.knowledge.retrieval.rerank.enabled = False
        if chunking is not None:
            settings.knowledge.chunking = chunking
        engine = scratch_database(Path(tmp))
        kb = KnowledgeBase(settings, engine, classify=lambda _text: Tier.PUBLIC, embedder=embedder)
        docs = sorted((data / "docs").glob("*.md"))
        for doc in docs:
            kb.ingest_file(doc, owner="eval-admin", public=True)
        texts = {doc.name: parse_document_safely(doc).text for doc in docs}
        vectors = MaxSimScorer(kb.embedder) if token_vectors else None
        sets = [_candidates(kb, item, texts, n, vectors) for item in load_questions(data)]
        engine.dispose()
    return sets


def load_questions(data: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (data / "qa.jsonl").read_text().splitlines() if line.strip()]


def _candidates(
    kb: Any, item: dict[str, Any], texts: dict[str, str], n: int, vectors: MaxSimScorer | None
) -> CandidateSet:
    question = str(item["question"])
    started = time.perf_counter()
    chunks = kb.search(question, EVAL_USER, k=n)
    retrieval_ms = (time.perf_counter() - started) * 1000
    name = Path(str(item["doc_file"])).name
    start = texts[name].find(str(item["gold_paragraph"]))
    span = (start, start + len(str(item["gold_paragraph"])))
    rank = gold_rank(chunks, name, span) if start >= 0 else None
    sims = vectors.scores(question, chunks) if vectors else None
    article = str(item["doc_title"])
    return CandidateSet(
        question_id=str(item["id"]),
        article=article,
        split=str(item.get("split") or ("heldout" if article in SQUAD_HELD_OUT_ARTICLES else "train")),
        answerable=not item.get("is_impossible"),
        gold=None if rank is None else rank - 1,
        features=feature_matrix(question, chunks, sims).tolist(),
        question=question,
        texts=[c.text for c in chunks],
        retrieval_ms=retrieval_ms,
        rerank_ms=_time_rerank(question, chunks),
    )


def _time_rerank(question: str, chunks: list[RetrievedChunk]) -> float:
    """Milliseconds the bundled (no late interaction) fusion takes to reorder these candidates."""
    reranker = Reranker(load_fusion())
    started = time.perf_counter()
    reranker.rerank(question, chunks)
    return (time.perf_counter() - started) * 1000


class MaxSimScorer:
    """MaxSim of a question against passages, caching passage token vectors by text (eval only)."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self._cache: dict[str, Any] = {}

    def scores(self, question: str, chunks: Sequence[RetrievedChunk]) -> list[float]:
        missing = [c.text for c in chunks if c.text not in self._cache]
        if missing:
            self._cache.update(zip(missing, token_vectors(self._embedder, missing), strict=True))
        query = token_vectors(self._embedder, [question])[0]
        return [maxsim(query, self._cache[c.text]) for c in chunks]


def _report(outcomes: list[QuestionOutcome]) -> RagEvalReport:
    answerable = [o for o in outcomes if o.answerable]
    n = max(len(answerable), 1)
    return RagEvalReport(
        questions=len(outcomes),
        answerable=len(answerable),
        recall_at_1=sum(o.gold_rank == 1 for o in answerable) / n,
        recall_at_5=sum(o.gold_rank is not None and o.gold_rank <= 5 for o in answerable) / n,
        mrr_at_10=sum(1.0 / o.gold_rank for o in answerable if o.gold_rank) / n,
        auroc=auroc(
            [o.answerability for o in answerable], [o.answerability for o in outcomes if not o.answerable]
        ),
        outcomes=outcomes,
    )


def evaluate_corpora(
    paths: Sequence[Path],
    *,
    scratch_database: DatabaseAt,
    fit: bool = False,
    progress: Callable[[str], None] | None = None,
    judge: YesNoJudge | None = None,
    judge_cache: Path | None = None,
    judge_limit: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Before/after reranking per corpus and split; with `fit`, refit and save the fusion first.

    With `judge` (the private model), also the relevance judge's rule chosen on the train splits
    and its held-out figures (`knowledge.judge_eval`); verdicts are cached in `judge_cache`.
    """
    corpora: dict[str, list[CandidateSet]] = {}
    for path in paths:
        if progress:
            progress(f"retrieving candidates for {path} ...")
        corpora[path.name] = collect_candidates(path, scratch_database=scratch_database)
    if fit:
        _fit_and_save(corpora)
    plain, late = load_fusion(FUSION_FILE), load_fusion(FUSION_MAXSIM_FILE)
    summary: dict[str, dict[str, Any]] = {}
    for name, sets in corpora.items():
        block: dict[str, Any] = {}
        for split in ("train", "heldout"):
            part = [s for s in sets if s.split == split]
            if part:
                block[f"{split} before"] = metrics_line(rank_metrics(part))
                block[f"{split} after"] = metrics_line(rank_metrics(part, plain))
                block[f"{split} after (late interaction)"] = metrics_line(rank_metrics(part, late))
                if not all(s.answerable for s in part):
                    block[f"{split} answerability AUROC"] = _answerability(part, plain)
        block["retrieval ms p50/p95"] = percentiles([s.retrieval_ms for s in sets])
        block["rerank ms p50/p95 (20 candidates)"] = percentiles([s.rerank_ms for s in sets])
        summary[name] = block
    if judge is not None:
        from knowledge.judge_eval import DEFAULT_CACHE, judge_report

        summary["relevance judge"] = judge_report(
            corpora,
            plain,
            judge,
            judge_cache or DEFAULT_CACHE,
            limit=judge_limit,
            progress=progress,
        )
    return summary


def _answerability(sets: Sequence[CandidateSet], fusion: FusionWeights) -> str:
    """AUROC of answerable vs unanswerable by the top cosine, and by the top fused probability."""
    dense = FEATURES.index("dense")
    rows = [np.asarray(s.features, dtype=np.float64) for s in sets]
    by_cosine = [float(x[:, dense].max()) if len(x) else 0.0 for x in rows]
    by_fusion = [float(fusion_scores(fusion, x).max()) if len(x) else 0.0 for x in rows]
    labels = [s.answerable for s in sets]

    def split_auroc(scores: list[float]) -> float:
        return auroc(
            [v for v, y in zip(scores, labels, strict=True) if y],
            [v for v, y in zip(scores, labels, strict=True) if not y],
        )

    return f"top cosine {split_auroc(by_cosine):.3f}  top fused probability {split_auroc(by_fusion):.3f}"


def metrics_line(m: RankMetrics) -> str:
    """One report line of ranking metrics."""
    recall = f"recall@1 {m.recall_at_1:.3f}  recall@5 {m.recall_at_5:.3f}"
    return f"{recall}  MRR@10 {m.mrr_at_10:.3f}  (n={m.questions})"


def percentiles(values: Sequence[float], digits: int = 1) -> str:
    """ "p50 / p95" of `values` for a report line, or "n/a"."""
    if not values:
        return "n/a"
    p50, p95 = np.percentile(np.asarray(values), [50, 95])
    return f"{p50:.{digits}f} / {p95:.{digits}f}"


def _fit_and_save(corpora: dict[str, list[CandidateSet]]) -> None:
    from knowledge.calibration import fit_rerank_fusion

    train = [s for sets in corpora.values() for s in sets if s.split == "train"]
    story = "; ".join(
        f"{name}: {sum(s.split == 'train' and s.answerable for s in sets)} answerable train questions "
        f"({', '.join(sorted({s.article for s in sets if s.split == 'train'}))})"
        for name, sets in corpora.items()
    )
    for late, path in ((False, FUSION_FILE), (True, FUSION_MAXSIM_FILE)):
        fusion = fit_rerank_fusion(
            train,
            late_interaction=late,
            trained_on="pointwise L2 logistic regression over hybrid top-20 candidates (gold passage = 1); "
            + story,
        )
        held_out = {
            f"{name} {key}": value
            for name, sets in corpora.items()
            for key, value in rank_metrics([s for s in sets if s.split == "heldout"], fusion)
            .model_dump()
            .items()
        }
        save_fusion(fusion.model_copy(update={"held_out": held_out}), path)
