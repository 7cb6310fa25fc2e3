"""Ingestion throughput: our embedder vs Chroma's default embedding function, on the same chunks.

Chroma's `ONNXMiniLM_L6_V2` downloads its model on first use; offline we point its cache
directory (a temp dir) at the same int8 ONNX model and tokenizer files from the installed
packages, so both sides run the same weights and differ only in batching/padding (Chroma pads
every batch to 256 tokens; we sort by length and pad each batch to its own longest text).

Then `stages`: the whole ingest path on the same documents with the real sensitivity gate, CPU
seconds per stage (chunking, gate per chunk, embedding per document, Chroma add) and KB of text
per CPU-second, so the next speed-up aims at the stage that costs most.

`--ceiling` adds, after the stages, each model of the path timed alone on the same chunks (the
token NER, spaCy, the PERSON voter, the contextual classifier's MiniLM on the texts the gate asks
it about, the knowledge base's MiniLM), and the "gate models only", "embedding only" and "every
model only" rows: KB per CPU-second if nothing but those ran, the ceiling of any change that keeps
the gate's decisions and the stored vectors, printed rather than estimated.

With `--before REV` only the stages run, for the code of commit REV (exported with `git archive`,
the working tree is not touched) and for the working tree, each in its own child process, in
alternating rounds, so both are measured under the same load; each child counts its own CPU.

Run: .venv/bin/python bench/bench_ingest.py [--docs DIR] [--limit N]
     .venv/bin/python bench/bench_ingest.py --stages-only [--gate-per-text] [--ceiling] [--docs DIR]
     .venv/bin/python bench/bench_ingest.py --before REV [--after REV] [--rounds 3] [--docs DIR]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from knowledge.chunking import chunk_document
from knowledge.embeddings import OnnxMiniLMEmbedder
from knowledge.ingestion import chunk_records, indexed_text
from knowledge.parsing import parse_document_safely
from knowledge.settings import EmbeddingSettings
from knowledge.store import KnowledgeStore, open_client
from models.files import locate_package_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DOCS = REPO.parent / "shared" / "eval" / "rag" / "squad2_subset" / "docs"


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


def stages(docs: Path, embedder: OnnxMiniLMEmbedder, *, gate_per_text: bool = False) -> dict[str, float]:
    """CPU seconds per ingest stage with the real gate (all threads of this process count)."""
    from assistant.services import build_privacy, tier_classifier
    from assistant.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        classify = tier_classifier(build_privacy(settings))
        if gate_per_text:  # the same gate without its batch entry point, for the batch's own effect
            classify = functools.partial(classify)
        classify("warm up the gate")
        store = KnowledgeStore(open_client(settings.knowledge.chroma, Path(tmp) / "chroma"), "bench-ingest")
        totals = {"parse+chunk": 0.0, "gate": 0.0, "embed": 0.0, "store": 0.0}
        tiers: Counter[str] = Counter()
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
            tiers.update(r.metadata["tier"] for r in records)  # type: ignore[attr-defined]
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
    print(f"  chunk tiers: {_tier_line(tiers)}")
    counted = {f"tier:{tier}": float(count) for tier, count in tiers.items()}
    return {"kb": kb, "chunks": chunks, "cpu_s": total, **totals, **counted}


def ceiling(docs: Path, embedder: OnnxMiniLMEmbedder) -> dict[str, float]:
    """CPU seconds of each model of the ingest path alone, per document as ingest runs them, and
    the KB per CPU-second that the gate's models, the embedding, and both would allow by themselves."""
    from assistant.services import build_privacy
    from assistant.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        gate = build_privacy(load_settings(data_dir=Path(tmp))).gate  # type: ignore[attr-defined]
        gate.classify("warm up the gate")
        rows: dict[str, float] = defaultdict(float)
        size = 0
        for path in sorted(docs.glob("*.md")):
            size += path.stat().st_size
            parsed, pieces = _parse_and_chunk(path)
            chunks: list[Any] = pieces
            for name, seconds in _model_seconds(gate, [chunk.text for chunk in chunks]).items():
                rows[name] += seconds
            indexed = [indexed_text(parsed.title, " › ".join(c.heading_path), c.text) for c in chunks]  # type: ignore[attr-defined]
            rows["knowledge-base MiniLM (embed)"] += cpu(functools.partial(embedder.embed, indexed))[0]
    kb = size / 1000
    gate_models = sum(seconds for name, seconds in rows.items() if "embed" not in name)
    rows["gate models only"] = gate_models
    rows["embedding only"] = rows["knowledge-base MiniLM (embed)"]
    rows["every model only (ceiling)"] = gate_models + rows["embedding only"]
    print(f"models alone on the same {kb:.0f} KB (per document, as ingest runs them):")
    for name, seconds in rows.items():
        print(f"  {name:<34} {seconds:6.2f} CPU-s = {kb / max(seconds, 1e-9):6.1f} KB per CPU-s")
    return dict(rows)


def _model_seconds(gate: Any, texts: list[str]) -> dict[str, float]:
    """One document's chunks through each model of the gate alone (the gate's own objects: a
    bench may reach into them; normalization, rules and topics between them are not counted)."""
    from routing.gate import _scored_text
    from routing.normalize import normalize

    detector, policy = gate._detector, gate.policy
    mapped = [normalize(text) for text in texts]
    plain = [m.text for m in mapped]
    nlp_engine = detector.engine.nlp_engine
    seconds = {
        "token NER (Rampart)": cpu(lambda: detector._token_ner.find_many(plain))[0],
        "spaCy sm (nlp.pipe)": cpu(lambda: list(nlp_engine.process_batch(plain, "en", batch_size=32)))[0],
        "PERSON voter, spaCy md": cpu(lambda: detector._voted_many(plain))[0],
    }
    found = detector.find_many(plain)
    firsts = [gate._deterministic(*row, "document", policy) for row in zip(texts, mapped, found, strict=True)]
    asked = [_scored_text(first) for first in firsts if gate._needs_verdict(first, policy)]
    seconds["contextual MiniLM (gate)"] = cpu(lambda: gate._verdicts(asked))[0]
    return seconds


def _tier_line(counts: Mapping[str, float]) -> str:
    return ", ".join(f"{tier} {int(counts.get(tier, 0))}" for tier in ("public", "internal", "regulated"))


def _tiers(figures: Mapping[str, float]) -> dict[str, float]:
    return {key.removeprefix("tier:"): value for key, value in figures.items() if key.startswith("tier:")}


def _parse_and_chunk(path: Path) -> tuple[object, list[object]]:
    parsed = parse_document_safely(path)
    return parsed, list(chunk_document(parsed))


def _export(rev: str, root: Path) -> Path:
    # Imported here, in the parent only: a child runs with another commit's tree first on its path.
    from revisions import export_tree  # bench/ is the script's own directory on sys.path

    return export_tree(rev, root)


def _stages_in(tree: Path, docs: Path) -> dict[str, float]:
    """This file's `stages` in a child process whose packages come from `tree` (PYTHONPATH wins
    over the editable install); its last line is the figures as JSON."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--stages-json", "--docs", str(docs)]
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def compare(rev: str, docs: Path, rounds: int, after: str | None = None) -> None:
    """KB per CPU-second of the ingest stages, commit `rev` against commit `after` (default: the
    working tree, with whatever uncommitted work it holds), interleaved."""
    runs: dict[str, list[dict[str, float]]] = {f"before ({rev})": [], f"after ({after or 'work tree'})": []}
    with tempfile.TemporaryDirectory() as tmp:
        new = _export(after, Path(tmp)) if after else REPO
        trees = dict(zip(runs, (_export(rev, Path(tmp)), new), strict=True))
        for number in range(rounds):
            for name, tree in trees.items():
                figures = _stages_in(tree, docs)
                runs[name].append(figures)
                rate, took = figures["kb"] / figures["cpu_s"], figures["cpu_s"]
                print(f"round {number + 1} {name:<22} {took:6.1f} CPU-s = {rate:5.1f} KB per CPU-s")
    medians = {}
    for name, rows in runs.items():
        middle = sorted(rows, key=lambda f: f["cpu_s"])[len(rows) // 2]
        medians[name] = middle["kb"] / middle["cpu_s"]
        parts = ", ".join(f"{s} {middle[s]:.1f}" for s in ("parse+chunk", "gate", "embed", "store"))
        print(f"{name:<22} median {medians[name]:5.1f} KB per CPU-s ({middle['kb']:.0f} KB, "
              f"{middle['chunks']:.0f} chunks; CPU-s: {parts})")  # fmt: skip
        print(f"{name:<22} chunk tiers: {_tier_line(_tiers(middle))}")
    old_rate, new_rate = medians.values()
    print(f"after / before = {new_rate / old_rate:.2f}x KB per CPU-second, corpus {docs}")
    # The gate's decisions must not change with its speed: every run's tiers against the first's.
    counts = [_tiers(figures) for rows in runs.values() for figures in rows]
    same = all(count == counts[0] for count in counts)
    verdict = "the same in every run" if same else "DIFFER between runs (a bug unless explained)"
    print(f"chunk tiers: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--stages-only", action="store_true")
    parser.add_argument("--gate-per-text", action="store_true", help="with --stages-only: no gate batch")
    parser.add_argument("--before", metavar="REV", help="compare the ingest stages with commit REV")
    parser.add_argument("--after", metavar="REV", help="with --before: this commit, not the work tree")
    parser.add_argument("--ceiling", action="store_true", help="with --stages-only: each model alone too")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stages-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stages_json:  # a child of --before: the figures as the last line
        print(json.dumps(stages(args.docs.resolve(), OnnxMiniLMEmbedder())))
        return
    if args.before:
        compare(args.before, args.docs.resolve(), args.rounds, args.after)
        print(f"load average {os.getloadavg()[0]:.1f}")
        return
    if args.stages_only:
        stages(args.docs, OnnxMiniLMEmbedder(), gate_per_text=args.gate_per_text)
        if args.ceiling:
            ceiling(args.docs, OnnxMiniLMEmbedder())
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
