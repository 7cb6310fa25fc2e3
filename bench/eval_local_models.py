"""Compare the local model profiles on a fixed question set: quality, speed and memory.

    .venv/bin/python bench/eval_local_models.py                  # both profiles, side by side
    .venv/bin/python bench/eval_local_models.py --profiles small --limit 5

Each profile runs in its own process (so load time and RSS are its own), greedy (temperature 0),
with the profile's other defaults (stops, repeat penalty), no loop guard (loops are counted, not
hidden). Questions come from `bench/data/local_model_questions.jsonl`, split into `dev` and
`heldout`; the prompts use the app's own grounding instruction. Every check is deterministic:
contains the expected fact, cites the right [n], refuses when the answer is absent, valid JSON
with the summary schema, no loop (the same detector the app's guard uses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.grounding import GROUNDING_INSTRUCTION  # noqa: E402
from models.base import ChatMessage, ChatRequest, collect  # noqa: E402
from models.degeneration import LoopDetector  # noqa: E402
from routing.structured import extract_json_object  # noqa: E402

QUESTIONS = ROOT / "bench" / "data" / "local_model_questions.jsonl"
SYSTEM = (
    "You are Confidante, a careful assistant for the employees of one company. Answer briefly and plainly."
)
JSON_SYSTEM = (
    'Summarise the document as one JSON object with exactly these keys: "title" (string), '
    '"summary" (one or two sentences), "key_points" (a list of 2 to 5 short strings). Output only the JSON.'
)
REFUSAL = re.compile(
    r"couldn.?t find|could not find|cannot find|can.?t find|not (?:in|mentioned in|covered by|contained in) "
    r"the (?:documents|sources)|(?:do|does) not (?:contain|mention|say|include|provide)|no information|"
    r"not (?:specified|mentioned|provided|stated)|don.?t have (?:that|this|any)",
    re.IGNORECASE,
)
MAX_TOKENS = {"grounded": 160, "absent": 120, "draft": 320, "json": 256}


def load_questions(limit: int | None, kinds: str | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if kinds is None or r["kind"] in kinds.split(",")]
    return rows[:limit] if limit else rows


def source_block(number: int, title: str, text: str) -> str:
    return f'<source id="{number}" title="{title}">\n{text}\n</source>'


def build_request(item: dict[str, Any]) -> ChatRequest:
    kind = item["kind"]
    if kind in ("grounded", "absent"):
        blocks = "\n\n".join(source_block(n, t, x) for n, (t, x) in enumerate(item["passages"], start=1))
        messages = [
            ChatMessage(role="system", content=f"{SYSTEM}\n\n{GROUNDING_INSTRUCTION}"),
            ChatMessage(
                role="user", content=f"<sources>\n{blocks}\n</sources>\n\nQuestion: {item['question']}"
            ),
        ]
    elif kind == "draft":
        messages = [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=item["task"]),
        ]
    else:
        messages = [
            ChatMessage(role="system", content=JSON_SYSTEM),
            ChatMessage(role="user", content=f"Document:\n{item['document']}"),
        ]
    return ChatRequest.of(messages, max_tokens=MAX_TOKENS[kind], temperature=0.0, json_mode=kind == "json")


def has_all(text: str, expect: list[list[str]]) -> bool:
    low = text.lower()
    return all(any(alt.lower() in low for alt in alternatives) for alternatives in expect)


def looped(text: str) -> bool:
    detector = LoopDetector()
    return any(detector.feed(piece + " ") for piece in text.split(" "))


def parse_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in the reply, found the way the app's structured outputs find it."""
    body = extract_json_object(text)
    value = json.loads(body) if body is not None else None
    return value if isinstance(value, dict) else None


def schema_ok(value: dict[str, Any] | None) -> bool:
    if value is None or set(value) != {"title", "summary", "key_points"}:
        return False
    points = value["key_points"]
    return (
        isinstance(value["title"], str)
        and isinstance(value["summary"], str)
        and isinstance(points, list)
        and 2 <= len(points) <= 5
        and all(isinstance(p, str) and p.strip() for p in points)
    )


def score(item: dict[str, Any], text: str) -> dict[str, bool]:
    """Deterministic checks per kind; `ok` is the item's pass/fail."""
    kind, checks = item["kind"], {"no_loop": not looped(text)}
    if kind == "grounded":
        checks["fact"] = has_all(text, item["expect"])
        checks["cites"] = any(f"[{n}]" in text for n in item["cite"])
        checks["answers"] = not REFUSAL.search(text)
    elif kind == "absent":
        checks["refuses"] = bool(REFUSAL.search(text))
    elif kind == "draft":
        checks["content"] = has_all(text, item["expect"])
        checks["length"] = 0 < len(text.split()) <= item["max_words"]
    else:
        value = parse_json(text)
        checks["json"] = value is not None
        checks["schema"] = schema_ok(value)
        checks["fact"] = value is not None and has_all(json.dumps(value, ensure_ascii=False), item["expect"])
    checks["ok"] = all(checks.values())
    return checks


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_items(model: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for item in items:
        end = await collect(model.stream(build_request(item)))
        gen_s = max(1e-6, (end.latency_ms - (end.ttft_ms or 0)) / 1000)
        results.append(
            {
                "id": item["id"],
                "kind": item["kind"],
                "split": item["split"],
                "checks": score(item, end.text),
                "finish": end.finish_reason,
                "tokens": end.usage.completion_tokens,
                "prompt_tokens": end.usage.prompt_tokens,
                "ttft_ms": end.ttft_ms,
                "tok_s": max(0, end.usage.completion_tokens - 1) / gen_s,
                "text": end.text,
            }
        )
        print(
            f"  {item['id']}: {'ok ' if results[-1]['checks']['ok'] else 'FAIL'} {end.text[:70]!r}",
            file=sys.stderr,
        )
    return results


def run_profile(
    profile: str,
    limit: int | None,
    data_dir: Path,
    threads: int | None,
    repeat_penalty: float | None,
    kinds: str | None,
) -> dict[str, Any]:
    """One profile in this process: resolve (and assemble) the file, load, answer every item."""
    from models.assembled import resolve_local_gguf
    from models.local import LocalModel
    from models.settings import LocalModelSettings

    overrides: dict[str, Any] = {"profile": profile, "queue_size": 64}
    if threads:
        overrides["threads"] = threads
    if repeat_penalty is not None:
        overrides["repeat_penalty"] = repeat_penalty
    settings = LocalModelSettings(**overrides)
    path = resolve_local_gguf(settings, data_dir)
    rss_before = rss_mb("VmRSS")
    model = LocalModel(path, settings)
    started = time.monotonic()
    model.wait_ready(600)
    load_s = time.monotonic() - started
    rss_loaded = rss_mb("VmRSS")
    try:
        results = asyncio.run(run_items(model, load_questions(limit, kinds)))
    finally:
        model.close()
    return {
        "profile": profile,
        "name": settings.name,
        "load_s": load_s,
        "rss_loaded_mb": rss_loaded - rss_before,
        "rss_peak_mb": rss_mb("VmHWM"),
        "results": results,
    }


def summary_rows(run: dict[str, Any]) -> dict[str, str]:
    """Figures for the side-by-side table."""
    res = run["results"]
    rows: dict[str, str] = {}
    for split in ("dev", "heldout", "all"):
        chosen = [r for r in res if split == "all" or r["split"] == split]
        rows[f"pass ({split})"] = f"{sum(r['checks']['ok'] for r in chosen)}/{len(chosen)}"
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in res:
        by_kind[r["kind"]].append(r)
    for kind, chosen in sorted(by_kind.items()):
        rows[f"pass {kind}"] = f"{sum(r['checks']['ok'] for r in chosen)}/{len(chosen)}"
    grounded = by_kind.get("grounded", [])
    rows["grounded: fact"] = f"{sum(r['checks']['fact'] for r in grounded)}/{len(grounded)}"
    rows["grounded: cites [n]"] = f"{sum(r['checks']['cites'] for r in grounded)}/{len(grounded)}"
    js = by_kind.get("json", [])
    rows["json: valid / schema"] = (
        f"{sum(r['checks']['json'] for r in js)} / {sum(r['checks']['schema'] for r in js)}"
    )
    rows["loops"] = str(sum(not r["checks"]["no_loop"] for r in res))
    rows["tokens/s (median)"] = f"{median([r['tok_s'] for r in res]):.1f}"
    rows["TTFT ms (median)"] = f"{median([r['ttft_ms'] or 0 for r in res]):.0f}"
    rows["load s"] = f"{run['load_s']:.1f}"
    rows["RSS after load MB"] = f"{run['rss_loaded_mb']:.0f}"
    rows["peak RSS MB"] = f"{run['rss_peak_mb']:.0f}"
    return rows


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def print_table(runs: list[dict[str, Any]]) -> None:
    tables = [summary_rows(run) for run in runs]
    header = ["", *(f"{run['profile']}: {run['name']}" for run in runs)]
    width = max(len(k) for k in tables[0]) + 2
    cols = [max(len(h), 12) + 2 for h in header[1:]]
    print(header[0].ljust(width) + "".join(h.ljust(c) for h, c in zip(header[1:], cols, strict=True)))
    for key in tables[0]:
        print(key.ljust(width) + "".join(t[key].ljust(c) for t, c in zip(tables, cols, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", default="standard,small")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--kinds", default=None, help="only these kinds, e.g. grounded,absent")
    parser.add_argument("--repeat-penalty", type=float, default=None, help="override the profiles' default")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CONFIDANTE_DATA_DIR", "data")))
    parser.add_argument("--out", type=Path, default=None, help="write every answer and check as JSON")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one profile, print JSON
    args = parser.parse_args()
    if args.one:
        print(
            json.dumps(
                run_profile(
                    args.one, args.limit, args.data_dir, args.threads, args.repeat_penalty, args.kinds
                )
            )
        )
        return
    runs = []
    for profile in args.profiles.split(","):
        command = [sys.executable, __file__, "--one", profile, "--data-dir", str(args.data_dir)]
        command += [f"--limit={args.limit}"] if args.limit else []
        command += [f"--threads={args.threads}"] if args.threads else []
        command += [f"--kinds={args.kinds}"] if args.kinds else []
        command += [f"--repeat-penalty={args.repeat_penalty}"] if args.repeat_penalty is not None else []
        print(f"== {profile}", file=sys.stderr)
        with tempfile.TemporaryFile("w+") as out:
            subprocess.run(command, stdout=out, check=True)
            out.seek(0)
            runs.append(json.loads(out.read()))
    if args.out:
        args.out.write_text(json.dumps(runs, indent=1, ensure_ascii=False))
    print_table(runs)


if __name__ == "__main__":
    main()
