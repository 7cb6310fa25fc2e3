"""Ingestion throughput: our embedder vs Chroma's default embedding function, on the same chunks.

Chroma's `ONNXMiniLM_L6_V2` downloads its model on first use; offline we point its cache
directory (a temp dir) at the same int8 ONNX model and tokenizer files from the installed
packages, so both sides run the same weights and differ only in batching/padding (Chroma pads
every batch to 256 tokens; we sort by length and pad each batch to its own longest text).

Then `stages`: the whole ingest path on the same documents with the real sensitivity gate, CPU
seconds per stage (chunking, gate per chunk, embedding per document, Chroma add) and KB of text
per CPU-second, so the next speed-up aims at the stage that costs most.

Run: .venv/bin/python bench/bench_ingest.py [--docs DIR] [--limit N] [--stages-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from knowledge.chunking import chunk_document
from knowledge.embeddings import OnnxMiniLMEmbedder
from knowledge.ingestion import chunk_records, indexed_text
from knowledge.parsing import parse_document_safely
from knowledge.settings import EmbeddingSettings
from knowledge.store import KnowledgeStore, open_client
from models.files import locate_package_file

DEFAULT_DOCS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "rag" / "squad2_subset" / "docs"


def load_chunks(docs: Path) -> list[str]:
    texts = []
    for path in sorted(docs.glob("*.md")):
        parsed = parse_document_safely(path)
        texts += [
            indexed_text(parsed.title, " › ".join(c.heading_path), c.text) for c in chunk_document(parsed)
        ]
    return texts


def chroma_default_offline(cache: Path) -> object:
    from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

    settings = EmbeddingSettings()
    folder = cache / "onnx"
    folder.mkdir(parents=True)
    shutil.copy(locate_package_file(settings.model_package, settings.model_file), folder / "model.onnx")
    tokenizer_dir = locate_package_file(settings.tokenizer_package, settings.tokenizer_file).parent
    for name in (
        "config.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "tokenizer.json",
        "vocab.txt",
    ):
        shutil.copy(tokenizer_dir / name, folder / name)
    function = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
    function.DOWNLOAD_PATH = cache  # type: ignore[misc]  # the files are there: nothing is downloaded
    return function


def timed(label: str, fn, texts: list[str]) -> float:
    start = time.perf_counter()
    fn(texts)
    seconds = time.perf_counter() - start
    print(f"{label:<40} {len(texts):>5} chunks in {seconds:7.2f} s = {len(texts) / seconds:7.1f} chunks/s")
    return seconds


def cpu(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


def stages(docs: Path, embedder: OnnxMiniLMEmbedder) -> None:
    """CPU seconds per ingest stage with the real gate (all threads of this process count)."""
    from assistant.services import build_privacy, tier_classifier
    from assistant.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        classify = tier_classifier(build_privacy(settings))
        classify("warm up the gate")
        store = KnowledgeStore(open_client(settings.knowledge.chroma, Path(tmp) / "chroma"), "bench-ingest")
        totals = {"parse+chunk": 0.0, "gate": 0.0, "embed": 0.0, "store": 0.0}
        size = chunks = 0
        for number, path in enumerate(sorted(docs.glob("*.md"))):
            size += path.stat().st_size
            took, parsed_chunks = cpu(lambda path=path: _parse_and_chunk(path))
            totals["parse+chunk"] += took
            parsed, pieces = parsed_chunks  # type: ignore[misc]
            chunks += len(pieces)
            took, records = cpu(
                lambda parsed=parsed, pieces=pieces, number=number: chunk_records(
                    parsed,
                    pieces,
                    doc_id=f"d{number}",
                    version_id=f"v{number}",
                    owner="bench",
                    groups=["hr"],
                    public=False,
                    classify=classify,
                )
            )
            totals["gate"] += took
            texts = [indexed_text(r.metadata["title"], r.metadata["section"], r.text) for r in records]  # type: ignore[attr-defined]
            took, vectors = cpu(lambda texts=texts: embedder.embed(texts))
            totals["embed"] += took
            ids = [r.chunk_id for r in records]  # type: ignore[attr-defined]
            metas = [r.metadata for r in records]  # type: ignore[attr-defined]
            start = time.process_time()
            store.add(ids, texts, vectors, metas)  # type: ignore[arg-type]
            took = time.process_time() - start
            totals["store"] += took
    total = sum(totals.values())
    kb = size / 1000
    print(f"ingest stages: {kb:.0f} KB, {chunks} chunks, {total:.1f} CPU-s = {kb / total:.1f} KB per CPU-s")
    for stage, seconds in totals.items():
        share, per_chunk = 100 * seconds / total, 1000 * seconds / max(chunks, 1)
        print(f"  {stage:<12} {seconds:6.1f} CPU-s ({share:4.1f} %), {per_chunk:6.1f} ms per chunk")


def _parse_and_chunk(path: Path) -> tuple[object, list[object]]:
    parsed = parse_document_safely(path)
    return parsed, list(chunk_document(parsed))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--stages-only", action="store_true")
    args = parser.parse_args()
    if args.stages_only:
        stages(args.docs, OnnxMiniLMEmbedder())
        print(f"load average {os.getloadavg()[0]:.1f}")
        return
    texts = load_chunks(args.docs)[: args.limit]
    ours = OnnxMiniLMEmbedder()
    ours.embed(texts[:4])  # warm-up
    tokens = sorted(ours.count_tokens(t) for t in texts)
    print(f"chunks: {len(texts)}, tokens per chunk median {tokens[len(tokens) // 2]}, max {tokens[-1]}")
    short = [s for t in texts for s in t.split(". ") if len(s) > 20][: args.limit * 2]
    with tempfile.TemporaryDirectory() as tmp:
        chroma = chroma_default_offline(Path(tmp))
        chroma(texts[:4])  # type: ignore[operator]
        for label, batch in (("chunks", texts), ("short sentences", short)):
            mine = timed(f"ours (dynamic padding) / {label}", ours.embed, batch)
            theirs = timed(f"chroma default (pad 256) / {label}", chroma, batch)  # type: ignore[arg-type]
            print(f"ratio on {label}: ours is {theirs / mine:.1f}x faster")
    stages(args.docs, ours)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
