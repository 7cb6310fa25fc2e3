"""Gate latency vs bare Presidio on ~300-character messages, same texts, same process.

Run: .venv/bin/python bench/bench_gate.py [--n 200]
Prints p50/p95 for `SensitivityGate.classify` (the production gate: rules, NER, topics and the
learned contextual classifier on the local MiniLM embedder), for the contextual layer alone, and
for `AnalyzerEngine.analyze` (Presidio with the same spaCy model, all its components except the
parser, and its default recognizers), and their ratio. The gate itself skips the spaCy components
nothing reads (see `routing.analyzer`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from models.files import locate_package_file
from routing.analyzer import _offline_email_recognizer
from routing.contextual import ContextualClassifier, build_contextual
from routing.gate import build_gate
from routing.settings import RoutingSettings

SNIPPETS = [
    "Please ask John Smith to send the quarterly report to the finance team before Friday.",
    "My SSN is 078-05-1120 and my card is 4111 1111 1111 1111, can you check my account?",
    "What is the capital of France, and how many people live in its metropolitan area?",
    "Call Maria Garcia on +1 415 555 0199 or email maria.garcia@example.com about the offsite.",
    "The new onboarding checklist covers laptops, badges, the travel policy and expense tools.",
    "My colleague was diagnosed with diabetes and needs flexible hours for a few weeks.",
    "Summarize the attached meeting notes in three bullet points for the leadership team.",
]


# Public snippets only: the gate then runs every layer, the contextual classifier included (its
# worst case; with `run_on = "public"` a message found sensitive earlier skips it).
PUBLIC_SNIPPETS = [SNIPPETS[2], SNIPPETS[4], SNIPPETS[6]]


def messages(count: int, length: int = 300, snippets: list[str] = SNIPPETS) -> list[str]:
    rng = random.Random(7)
    texts = []
    for _ in range(count):
        text = ""
        while len(text) < length:
            text += rng.choice(snippets) + " "
        texts.append(text[:length])
    return texts


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def timed(fn, texts: list[str]) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """Wall-clock and CPU milliseconds per text. On a shared 2-core machine wall time swings with the
    load of other processes; the process's CPU time does much less."""
    wall, cpu = [], []
    for text in texts:
        started, cpu_started = time.perf_counter(), time.process_time()
        fn(text)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--public-only", action="store_true", help="Only public texts (all layers run).")
    args = parser.parse_args()
    texts = messages(args.n, snippets=PUBLIC_SNIPPETS if args.public_only else SNIPPETS)
    settings = RoutingSettings()
    gate = build_gate(settings)

    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    model_dir = locate_package_file(settings.spacy_package, f"{settings.spacy_model_dir}/config.cfg").parent
    nlp = spacy.load(model_dir, exclude=["parser", "senter"])
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "bench"}])
    engine.nlp = {"en": nlp}  # type: ignore[assignment]
    bare = AnalyzerEngine(nlp_engine=engine)
    # Presidio's own e-mail recognizer would fetch the public suffix list: swap in the offline one.
    bare.registry.remove_recognizer("EmailRecognizer")
    bare.registry.add_recognizer(_offline_email_recognizer())
    for text in texts[:10]:  # warm-up
        gate.classify(text)
        bare.analyze(text=text, language="en")

    decisions = [gate.classify(text) for text in texts]
    failed = sum(decision.failed_closed for decision in decisions)
    if failed:
        raise SystemExit(f"{failed} decisions failed closed: the figures would not be the gate's")
    public = sum(decision.tier.value == "public" for decision in decisions)
    contextual = build_contextual()
    assert isinstance(contextual, ContextualClassifier), "the contextual head did not load"
    gate_ms = timed(gate.classify, texts)
    contextual_ms = timed(contextual.best, texts)
    bare_ms = timed(lambda text: bare.analyze(text=text, language="en"), texts)
    print(f"messages: {len(texts)} x {len(texts[0])} chars; {public} found public by the gate")
    for label, samples in (("wall", contextual_ms[0]), ("cpu", contextual_ms[1])):
        c50, c95 = percentiles(samples)
        print(f"[{label}] contextual alone p50 {c50:6.1f} ms  p95 {c95:6.1f} ms  (MiniLM + head, every text)")
    for label, gate_samples, bare_samples in (
        ("wall", gate_ms[0], bare_ms[0]),
        ("cpu", gate_ms[1], bare_ms[1]),
    ):
        g50, g95 = percentiles(gate_samples)
        b50, b95 = percentiles(bare_samples)
        print(f"[{label}] gate     p50 {g50:6.1f} ms  p95 {g95:6.1f} ms")
        print(f"[{label}] presidio p50 {b50:6.1f} ms  p95 {b95:6.1f} ms  (bare AnalyzerEngine.analyze)")
        ratio = f"p50 {g50 / b50:.2f}  p95 {g95 / b95:.2f}"
        print(f"[{label}] ratio gate/presidio  {ratio}  goal gate p95 <= 40 ms")
    gate.close()


if __name__ == "__main__":
    main()
