"""Reranking latency against retrieval without reranking, in the same process, on a real corpus.

Ingests a corpus (default: the long technical documents in tests/data/rag_tech) with the real ONNX
embedder, then for every question times, alternating to share the machine's load fairly:
hybrid search without reranking (k=5), the same search with the bundled fusion reranking 20
candidates, and the rerank step alone on those 20 candidates; then late interaction (MaxSim)
with a cold and a warm token-vector cache. Prints p50/p95 and the ratio of the medians.

Run: .venv/bin/python bench/bench_rerank.py [--corpus tests/data/rag_tech] [--late-questions 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.settings import load_settings
from knowledge.evaluation import EVAL_USER, load_questions
from knowledge.knowledge_base import KnowledgeBase
from knowledge.rerank import FUSION_MAXSIM_FILE, Reranker, TokenVectorCache, load_fusion
from knowledge.testing import shared_onnx_embedder
from routing.tiers import Tier


def _ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _line(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{name:<44} p50 {statistics.median(values):8.1f} ms   p95 {p95:8.1f} ms   (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("tests/data/rag_tech"))
    parser.add_argument("--late-questions", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        engine = open_database(GovernanceSettings(), Path(tmp))
        kb = KnowledgeBase(settings, engine, lambda _t: Tier.PUBLIC, embedder=shared_onnx_embedder())
        for doc in sorted((args.corpus / "docs").glob("*.md")):
            kb.ingest_file(doc, owner="bench", public=True)
        questions = [str(q["question"]) for q in load_questions(args.corpus)]
        rerank = settings.knowledge.retrieval.rerank
        reranker = Reranker(load_fusion())
        plain, reranked, step = [], [], []
        for question in questions:
            rerank.enabled = False
            plain.append(_ms(partial(kb.search, question, EVAL_USER, 5)))
            candidates = kb.search(question, EVAL_USER, k=rerank.candidates)
            step.append(_ms(partial(reranker.rerank, question, candidates)))
            rerank.enabled = True
            reranked.append(_ms(partial(kb.search, question, EVAL_USER, 5)))
        print(_line("hybrid search, no reranking (k=5)", plain))
        print(_line("hybrid search + fusion rerank of 20 (k=5)", reranked))
        print(_line("fusion rerank step alone (20 passages)", step))
        ratio = statistics.median(reranked) / statistics.median(plain)
        print(f"ratio of medians (reranked / plain): {ratio:.2f}")
        _late_interaction(kb, questions[: args.late_questions], rerank.candidates)
        engine.dispose()


def _late_interaction(kb: KnowledgeBase, questions: list[str], n: int) -> None:
    cold, warm = [], []
    for question in questions:
        candidates = kb.search(question, EVAL_USER, k=n)
        cache = TokenVectorCache(kb.embedder)
        late = Reranker(
            load_fusion(FUSION_MAXSIM_FILE), query_vectors=cache.query, passage_vectors=cache.passages
        )
        cold.append(_ms(partial(late.rerank, question, candidates)))
        warm.append(_ms(partial(late.rerank, question, candidates)))
    print(_line("late interaction, cold token cache (20)", cold))
    print(_line("late interaction, warm token cache (20)", warm))


if __name__ == "__main__":
    main()
