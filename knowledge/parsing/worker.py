"""The parser child process: limits itself first, says it is ready, then reads one file and prints JSON.

Started only by `knowledge.parsing.sandbox`. It applies CPU-time, address-space and file-size
limits to itself before importing any parser, so a PDF that makes pypdf loop or a document that
balloons in memory kills this process, never the server. It never writes files and never
opens the network.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any


def apply_limits(cpu_seconds: int, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # A parser has no business writing files.
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def parse(job: dict[str, Any]) -> dict[str, Any]:
    # Imported after the limits are in place: parsing libraries are the untrusted part.
    from knowledge.parsing.documents import assemble_sections
    from knowledge.parsing.errors import NoTextFound, TooMuchText
    from knowledge.parsing.formats import preload_reader, read_by_kind
    from knowledge.parsing.protocol import READY

    preload_reader(job["kind"])
    # Start-up is done: the parent's wall clock for this file starts now, so a slow start on a busy
    # machine (interpreter, numpy, pypdf imports) never turns an ordinary file into a time-out.
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    drafts, metadata = read_by_kind(job["kind"], Path(job["path"]), max_pages=job["max_pages"])
    sections = assemble_sections(drafts)
    total = sum(len(section.text) for section in sections)
    if total == 0:
        raise NoTextFound("no text after extraction")
    if total > job["max_chars"]:
        raise TooMuchText(f"{total} characters")
    return {"sections": [section.model_dump() for section in sections], "metadata": metadata}


def main() -> int:
    # The job (a path and limits, never file content) is the only argument.
    job = json.loads(sys.argv[1])
    apply_limits(job["cpu_seconds"], job["memory_bytes"])
    from knowledge.parsing.errors import DocumentRejected

    try:
        result: dict[str, Any] = {"ok": parse(job)}
    except DocumentRejected as exc:
        result = {"error": {"code": exc.code, "detail": exc.detail, "user_message": exc.user_message}}
    except MemoryError:
        result = {"error": {"code": "resource_limit", "detail": "MemoryError", "user_message": None}}
    except RecursionError:
        result = {"error": {"code": "corrupt", "detail": "RecursionError", "user_message": None}}
    except Exception as exc:
        result = {
            "error": {"code": "corrupt", "detail": f"{type(exc).__name__}: {exc}", "user_message": None}
        }
    sys.stdout.buffer.write(json.dumps(result).encode())
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
