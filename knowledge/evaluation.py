"""RAG evaluation on SQuAD 2.0-style data: retrieval recall@k / MRR and answerability AUROC.

Ingests `docs/` into a throw-away data directory, asks every question of `qa.jsonl` as a user who
sees the (public) corpus, and scores the gold paragraph's rank. A chunk counts as the gold
paragraph when their character spans overlap by at least half of the shorter of the two.
Nothing here tunes anything: `calibration.fit_answerability` does that, with held-out folds.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlmodel import create_engine

from assistant.identity import Principal
from knowledge.confidence import retrieval_signals
from knowledge.embeddings import Embedder
from knowledge.parsing import parse_document_safely
from knowledge.retrieval import RetrievedChunk
from routing.tiers import Tier

EVAL_USER = Principal(user_id="eval-reader")


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
    embedder: Embedder | None = None,
    work_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RagEvalReport:
    from assistant.settings import load_settings
    from knowledge.knowledge_base import KnowledgeBase

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        settings = load_settings(data_dir=Path(tmp))
        engine = create_engine(f"sqlite:///{Path(tmp) / 'eval.db'}")
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
