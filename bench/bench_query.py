"""Query latency p50/p95 of hybrid search at 10k and 100k chunks (synthetic corpus).

The corpus is generated (random sentences over a fixed vocabulary) and embedded with the
deterministic hashing embedder of the same dimension as MiniLM (384), so building 100k chunks
takes minutes, not hours; queries are embedded with the real ONNX model, as in production, so
the figures include query embedding + Chroma HNSW search with the ACL + BM25 + fusion.
In the same process it then times the dense step alone both ways: today's filtered query (the
`where` from `access.chroma_where`) and the over-fetch of `knowledge.dense_search`, with how often
the over-fetch fell back and how far its lists agree with the filtered query's (HNSW is approximate;
the synthetic vectors, 35 words hashed into 384 buckets, are a hard case for it). Last, after one
more document, the BM25 delta sync against a full rebuild (the old path).

Run: .venv/bin/python bench/bench_query.py [--sizes 10000 100000] [--queries 50]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.settings import load_settings
from knowledge.access import chroma_where, principal_tokens
from knowledge.dense_search import DenseResult, dense_search
from knowledge.embeddings import OnnxMiniLMEmbedder
from knowledge.knowledge_base import KnowledgeBase
from knowledge.lexical import LexicalIndex
from knowledge.lexical_sync import rebuild_lexical
from knowledge.parsing.documents import ParsedDocument, SectionDraft, assemble_sections
from knowledge.testing import HashingEmbedder
from routing.tiers import Tier

WORDS = [
    "policy",
    "leave",
    "salary",
    "office",
    "travel",
    "expense",
    "report",
    "contract",
    "client",
    "project",
    "budget",
    "invoice",
    "training",
    "security",
    "laptop",
    "password",
    "holiday",
    "benefit",
    "pension",
    "insurance",
    "meeting",
    "deadline",
    "review",
    "audit",
    "team",
    "manager",
    "employee",
    "customer",
    "product",
    "release",
    "server",
    "network",
    "backup",
    "incident",
    "compliance",
]


class MixedEmbedder:
    """Hashing vectors for the bulk corpus, the real model for queries (same dimension)."""

    def __init__(self) -> None:
        self.bulk = HashingEmbedder(384)
        self.real = OnnxMiniLMEmbedder()
        self.querying = False

    dimension = 384
    model_id = "bench-mixed"

    def embed(self, texts):
        return self.real.embed(texts) if self.querying else self.bulk.embed(texts)


def sentence(rng: random.Random) -> str:
    return (
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize()
        + f" {rng.randint(1, 9999)}."
    )


def build(kb: KnowledgeBase, size: int, rng: random.Random, first: int = 0) -> None:
    per_doc = 100
    for number in range(first, first + size // per_doc):
        drafts = [
            SectionDraft(text=" ".join(sentence(rng) for _ in range(6)), page=i + 1) for i in range(per_doc)
        ]
        parsed = ParsedDocument(
            title=f"Synthetic {number}",
            kind="pdf",
            display_name=f"s{number}.pdf",
            sha256=f"{number:064d}",
            size_bytes=1,
            sections=assemble_sections(drafts),
        )
        groups = [rng.choice(["hr", "eng", "sales", "legal"])]
        kb.ingest_parsed(
            parsed,
            doc_id=f"doc{number}",
            source=f"bench:{number}",
            owner="bench",
            groups=groups,
            public=number % 5 == 0,
        )


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def measure(kb: KnowledgeBase, embedder: MixedEmbedder, queries: int, rng: random.Random) -> None:
    """Whole hybrid search (new dense path), then the dense step alone: today's `where` vs over-fetch."""
    user = Principal(user_id="u", groups=frozenset({"eng"}))
    embedder.querying = True
    kb.search("warm up query", user, k=5)
    texts = [" ".join(rng.choice(WORDS) for _ in range(6)) + "?" for _ in range(queries)]
    searches = [timed_ms(lambda q=q: kb.search(q, user, k=5)) for q in texts]
    vectors = embedder.embed(texts)
    embedder.querying = False
    n = kb.config.retrieval.candidates
    where = chroma_where(user)
    index, tokens = kb.lexical_index(), principal_tokens(user)

    def new_path(v: list[float]) -> DenseResult:
        return dense_search(kb.store, v, user, n=n, readable=lambda ids: index.readable(ids, tokens))

    old = [timed_ms(lambda v=v: kb.store.query(v, where=where, n=n)) for v in vectors]
    paths: list[str] = []
    new = [timed_ms(lambda v=v: paths.append(new_path(v).path)) for v in vectors]
    same = overlap = 0
    for v in vectors:
        filtered = [c.chunk_id for c in kb.store.query(v, where=where, n=n)]
        fetched = [c.chunk_id for c in new_path(v).chunks]
        same += filtered == fetched
        overlap += len(set(filtered) & set(fetched))
    for label, times in (
        ("hybrid search (new)", searches),
        ("dense, where (old)", old),
        ("dense, over-fetch (new)", new),
    ):
        p50, p95 = percentiles(times)
        print(f"    {label:<26} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    print(
        f"    dense p95 ratio old/new {percentiles(old)[1] / percentiles(new)[1]:.1f}x; "
        f"fell back to the filtered query {paths.count('filtered')}/{len(paths)}; "
        f"identical lists {same}/{len(vectors)}, recall@{n} vs the filtered query "
        f"{overlap / (n * len(vectors)):.3f} ({queries} queries, user sees public + eng)"
    )


def compare_lexical_update(kb: KnowledgeBase, rng: random.Random, tmp: Path) -> None:
    """After one more 100-chunk document: the delta sync (new) vs a full rebuild (old path)."""
    build(kb, 100, rng, first=10_000_000)
    start = time.perf_counter()
    kb.lexical_index()
    delta = time.perf_counter() - start
    start = time.perf_counter()
    visible = kb.registry.committed_versions()
    rebuild_lexical(LexicalIndex(tmp / "rebuild"), kb.store, fingerprint="bench", visible=visible)
    full = time.perf_counter() - start
    print(
        f"    after one more 100-chunk document: BM25 delta sync {delta * 1000:.0f} ms, "
        f"full rebuild (old path) {full * 1000:.0f} ms, ratio {full / delta:.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(7)
    embedder = MixedEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(
            load_settings(data_dir=Path(tmp)),
            open_database(GovernanceSettings(), Path(tmp)),
            lambda _t: Tier.INTERNAL,
            embedder=embedder,
        )
        built = 0
        for size in sorted(args.sizes):
            start = time.perf_counter()
            build(kb, size - built, rng, first=built // 100)
            built = size
            indexed_start = time.perf_counter()
            kb.lexical_index()
            print(
                f"{size} chunks: stored in {indexed_start - start:.0f} s, "
                f"BM25 brought up to date in {time.perf_counter() - indexed_start:.1f} s"
            )
            measure(kb, embedder, args.queries, rng)
            compare_lexical_update(kb, rng, Path(tmp))
        print(f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")


if __name__ == "__main__":
    main()
