"""How often the sensitivity gate reads a search result's own document id as a regulated value.

Run: .venv/bin/python bench/bench_doc_id_taint.py [--split dev|heldback] [--n 40]
Ingests the public handbook of the tests (`tests/data/docs/handbook-1p.docx`) into a throwaway
knowledge base with the real gate, runs `search_documents` for two questions, and classifies the
tool's result text (as `ToolRunner` does, source "tool-result") with the document id replaced by
`--n` random ids of the registry's shape (24 hex digits), once bare (as before session 6) and once
as the tool shows it now (`shown_doc_id`). Prints, per question, how many readings were regulated.
The dev split (seed 1) was looked at while choosing the form; report the held-back split (seed 2).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from pathlib import Path

from assistant.governance.db import open_database
from assistant.settings import Settings
from assistant.tools.base import ToolContext
from assistant.tools.builtin import SearchDocumentsArguments, SearchDocumentsTool, shown_doc_id
from knowledge.access import Principal
from knowledge.knowledge_base import KnowledgeBase
from routing.gate import build_gate
from routing.tiers import Tier

HANDBOOK = Path(__file__).resolve().parent.parent / "tests" / "data" / "docs" / "handbook-1p.docx"
QUESTIONS = ["duties of a standing trustee", "parental leave"]
SEEDS = {"dev": 1, "heldback": 2}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=sorted(SEEDS), default="heldback")
    parser.add_argument("--n", type=int, default=40)
    args = parser.parse_args()
    rng = random.Random(SEEDS[args.split])
    ids = [f"{rng.getrandbits(96):024x}" for _ in range(args.n)]
    with tempfile.TemporaryDirectory(prefix="bench-doc-id-") as scratch:
        settings = Settings(data_dir=Path(scratch))
        gate = build_gate(settings.routing)
        kb = KnowledgeBase(
            settings,
            open_database(settings.governance, settings.data_dir),
            lambda text: Tier(gate.classify(text, source="document").tier),
        )
        kb.ingest_file(HANDBOOK, owner="admin", groups=(), public=True)
        tool = SearchDocumentsTool(kb)
        reader = ToolContext(principal=Principal(user_id="newcomer", groups=frozenset()))
        for question in QUESTIONS:
            result = asyncio.run(tool.run(SearchDocumentsArguments(query=question), reader))
            assert result.data is not None, "the handbook was not found"
            [doc_id] = {p["doc_id"] for p in result.data["passages"]}
            shown = shown_doc_id(doc_id)
            bare = result.content.replace(shown, doc_id)
            for label, text, form in (("bare id", bare, doc_id), ("shown id", result.content, shown)):
                texts = [text.replace(form, form.replace(doc_id, other)) for other in ids]
                regulated = sum(
                    d.tier == Tier.REGULATED for d in gate.classify_many(texts, source="tool-result")
                )
                print(f"{args.split} {question!r:32} {label:9} regulated {regulated}/{len(ids)}", flush=True)
        gate.close()


if __name__ == "__main__":
    main()
