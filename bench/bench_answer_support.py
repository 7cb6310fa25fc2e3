"""Answer-level confidence on SQuAD 2.0: can a scripted wrong-source answer ever show "high"?

Run: PYTHONPATH=. .venv/bin/python bench/bench_answer_support.py [--hashing]
For every question of /work/shared/eval/rag/squad2_subset (answerable and unanswerable), passage [1]
is the question's gold paragraph (retrieval at its best, the worst case for this check), and three
scripted answers cite [1]:
- correct: the paragraph's sentence that holds the answer (answerable questions only);
- wrong, same article: the first sentence of another paragraph of the same article;
- wrong, other article: the first sentence of a paragraph of another article;
- wrong, same article (held out): the last sentence of the paragraph two further on, a variant
  added before the strong-support rule's missing-word limit was set and never looked at while
  setting it (the first same-article variant was: its figure is not a held-out one).
It prints how often the answer-support level is high / medium / low. The final badge is the minimum
of retrieval and answer support, so "support high" bounds how often the badge can be high; for the
wrong-source answers it must be 0. The real int8 MiniLM embedder is used unless --hashing.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from knowledge.answer_support import assess_answer
from knowledge.citations import passage_sentences
from knowledge.confidence import support_level

DATA = Path("/work/shared/eval/rag/squad2_subset/qa.jsonl")


def _load() -> tuple[list[dict[str, object]], dict[str, list[str]]]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    paragraphs: dict[str, dict[int, str]] = collections.defaultdict(dict)
    for row in rows:
        paragraphs[str(row["doc_title"])][int(row["paragraph_index"])] = str(row["gold_paragraph"])  # type: ignore[call-overload]
    ordered = {doc: [p[i] for i in sorted(p)] for doc, p in paragraphs.items()}
    return rows, ordered


def _answers(row: dict[str, object], paragraphs: dict[str, list[str]]) -> dict[str, str | None]:
    docs = sorted(paragraphs)
    doc = str(row["doc_title"])
    own = paragraphs[doc]
    index = own.index(str(row["gold_paragraph"]))
    other_doc = paragraphs[docs[(docs.index(doc) + 1) % len(docs)]]
    gold = str(row["gold_paragraph"])
    answers = row["answers"] or []
    correct = next(
        (s for s in passage_sentences(gold) if answers and str(answers[0]) in s),  # type: ignore[index]
        None,
    )
    return {
        "correct": None if row["is_impossible"] or correct is None else correct,
        "wrong, same article": passage_sentences(own[(index + 1) % len(own)])[0],
        "wrong, other article": passage_sentences(other_doc[index % len(other_doc)])[0],
        "wrong, same art. (held out)": passage_sentences(own[(index + 2) % len(own)])[-1]
        if len(own) > 2
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hashing", action="store_true", help="a hashing fake instead of MiniLM")
    args = parser.parse_args()
    if args.hashing:
        from knowledge.testing import HashingEmbedder

        embed = HashingEmbedder().embed
    else:
        from knowledge.embeddings import OnnxMiniLMEmbedder

        embed = OnnxMiniLMEmbedder().embed
    rows, paragraphs = _load()
    counts: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for row in rows:
        split = "unanswerable" if row["is_impossible"] else "answerable"
        for kind, sentence in _answers(row, paragraphs).items():
            if sentence is None:
                continue
            answer = sentence.rstrip(".") + " [1]."
            support = assess_answer(
                answer, {1: str(row["gold_paragraph"])}, question=str(row["question"]), embed=embed
            )
            counts[(split, kind)][support_level(support)] += 1
    print(f"{'questions':<14} {'scripted answer':<28} {'n':>5} {'high':>6} {'medium':>7} {'low':>6}")
    for (split, kind), c in sorted(counts.items()):
        n = sum(c.values())
        print(f"{split:<14} {kind:<28} {n:>5} {c['high']:>6} {c['medium']:>7} {c['low']:>6}")


if __name__ == "__main__":
    main()
