"""Ingestion throughput: our embedder vs Chroma's default embedding function, on the same chunks.

Chroma's `ONNXMiniLM_L6_V2` downloads its model on first use; offline we point its cache
directory (a temp dir) at the same int8 ONNX model and tokenizer files from the installed
packages, so both sides run the same weights and differ only in batching/padding (Chroma pads
every batch to 256 tokens; we sort by length and pad each batch to its own longest text).

Run: .venv/bin/python bench/bench_ingest.py [--docs DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from knowledge.chunking import chunk_document
from knowledge.embeddings import OnnxMiniLMEmbedder
from knowledge.ingestion import indexed_text
from knowledge.parsing import parse_document_safely
from knowledge.settings import EmbeddingSettings
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
