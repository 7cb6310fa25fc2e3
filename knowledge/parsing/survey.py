"""Try every file under a folder with `parse_document_safely` and print status, time and reason.

Run: .venv/bin/python -m knowledge.parsing.survey /work/shared/eval/docs
Used to check that every real-world file is either parsed or refused with a reason within 30 s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from knowledge.parsing import DocumentRejected, parse_document_safely


def main(folder: str) -> int:
    slowest = 0.0
    counts = {"parsed": 0, "rejected": 0}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        start = time.perf_counter()
        try:
            parsed = parse_document_safely(path)
            status, detail = "parsed", f"{len(parsed.sections)} sections, {len(parsed.text)} chars"
        except DocumentRejected as exc:
            status, detail = "rejected", f"{exc.user_message} [{exc.code}: {exc.detail[:60]}]"
        seconds = time.perf_counter() - start
        slowest = max(slowest, seconds)
        counts[status] += 1
        print(f"{seconds:6.2f}s {status:<8} {path.relative_to(folder)}: {detail}")
    print(f"{counts['parsed']} parsed, {counts['rejected']} rejected, slowest {slowest:.1f} s")
    return 0 if slowest < 30 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
