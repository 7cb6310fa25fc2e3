"""Query latency p50/p95 of hybrid search at 10k and 100k chunks (synthetic corpus).

The corpus is generated (random sentences over a fixed vocabulary) and embedded with the
deterministic hashing embedder of the same dimension as MiniLM (384), so building 100k chunks
takes minutes, not hours; queries are embedded with the real ONNX model, as in production, so
the figures include query embedding + Chroma HNSW search with the ACL filter + BM25 + fusion.

Run: .venv/bin/python bench/bench_query.py [--sizes 10000 100000] [--queries 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.settings import load_settings
from knowledge.embeddings import OnnxMiniLMEmbedder
from knowledge.knowledge_base import KnowledgeBase
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


def build(kb: KnowledgeBase, size: int, rng: random.Random) -> None:
    per_doc = 100
    for number in range(size // per_doc):
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


def measure(
    kb: KnowledgeBase, embedder: MixedEmbedder, queries: int, rng: random.Random
) -> tuple[float, float]:
    user = Principal(user_id="u", groups=frozenset({"eng"}))
    embedder.querying = True
    kb.search("warm up query", user, k=5)
    times = []
    for _ in range(queries):
        query = " ".join(rng.choice(WORDS) for _ in range(6)) + "?"
        start = time.perf_counter()
        kb.search(query, user, k=5)
        times.append((time.perf_counter() - start) * 1000)
    embedder.querying = False
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


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
            build(kb, size - built, rng)
            built = size
            indexed_start = time.perf_counter()
            kb.lexical_index()
            print(
                f"{size} chunks: stored in {indexed_start - start:.0f} s, "
                f"BM25 rebuilt in {time.perf_counter() - indexed_start:.1f} s"
            )
            p50, p95 = measure(kb, embedder, args.queries, rng)
            print(
                f"{size:>7} chunks: query p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                f"({args.queries} queries, ACL filter on)"
            )


if __name__ == "__main__":
    main()
