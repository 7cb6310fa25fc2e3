"""`parse_document_safely`: pre-checks here, parsing in a resource-limited child process.

The calling process only stats the file, reads its first bytes and a zip's central directory.
Everything else happens in `knowledge.parsing.worker`, bounded by CPU time, address space and a
wall-clock timeout, so a hostile file costs at most one child process for `timeout_s` seconds
of parsing (start-up is bounded separately).
The display name is sanitized here and never used as a path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import knowledge
from knowledge.parsing.documents import ParsedDocument, Section
from knowledge.parsing.errors import (
    CorruptDocument,
    DocumentRejected,
    ParseResourceLimit,
    ParseTimeout,
    rejection_from_code,
)
from knowledge.parsing.filenames import safe_display_name
from knowledge.parsing.prechecks import check_file, detect_kind
from knowledge.parsing.protocol import READY
from knowledge.settings import DocumentKind, ParsingSettings
from models.files import sha256_of

_PACKAGE_ROOT = str(Path(knowledge.__file__).resolve().parent.parent)


def parse_document_safely(
    path: Path, *, display_name: str | None = None, settings: ParsingSettings | None = None
) -> ParsedDocument:
    """Parse `path` or raise a `DocumentRejected` subclass whose `user_message` says why in one sentence.

    `display_name` is the untrusted original name (e.g. from an upload); it decides the type by
    extension and is shown to users after sanitizing. The file itself is read from `path` only.
    """
    settings = settings or ParsingSettings()
    name = safe_display_name(display_name if display_name is not None else path.name)
    kind = detect_kind(name, settings)
    if not path.is_file():
        raise CorruptDocument(f"not a regular file: {path}")
    check_file(path, kind, settings)
    size = path.stat().st_size
    result = _run_child(path, kind, settings)
    sections = tuple(Section.model_validate(raw) for raw in result["sections"])
    metadata: dict[str, str] = {k: str(v) for k, v in result["metadata"].items() if v}
    return ParsedDocument(
        title=_title(metadata, sections, name),
        kind=kind,
        display_name=name,
        sha256=sha256_of(path),
        size_bytes=size,
        sections=sections,
        page_count=int(metadata["pages"]) if metadata.get("pages", "").isdigit() else None,
        metadata=metadata,
        warnings=_warnings(metadata, sections),
    )


def _run_child(path: Path, kind: DocumentKind, settings: ParsingSettings) -> dict[str, Any]:
    job = {
        "path": str(path.resolve()),
        "kind": kind,
        "max_pages": settings.max_pages,
        "max_chars": settings.max_chars,
        "cpu_seconds": settings.cpu_seconds,
        "memory_bytes": settings.memory_bytes,
    }
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
    }
    env["OMP_NUM_THREADS"] = "1"
    child = subprocess.Popen(
        [sys.executable, "-m", "knowledge.parsing.worker", json.dumps(job)],
        stdin=subprocess.DEVNULL,
        # Unbuffered: the ready line is read byte by byte, so nothing after it is buffered here and
        # lost to communicate(), which reads the pipe's file descriptor directly.
        bufsize=0,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        stdout, stderr = _exchange(child, settings)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return _read_reply(subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr))


def _exchange(child: subprocess.Popen[bytes], settings: ParsingSettings) -> tuple[bytes, bytes]:
    """The child's output, with two clocks: start-up (the file is not open yet) and parsing.

    Only parsing counts against `timeout_s`: on a busy machine the interpreter and its imports can
    take seconds, and that must not turn an ordinary file into a time-out. Start-up has its own,
    generous bound so a child that never starts still ends.
    """
    assert child.stdout is not None
    head: list[bytes] = []
    reader = threading.Thread(target=lambda: head.append(child.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(settings.startup_timeout_s)
    if reader.is_alive():
        raise ParseTimeout(f"child did not start within {settings.startup_timeout_s}s")
    # No ready line: the child failed before parsing, and what it read is its whole reply.
    early = b"" if head[0] == READY else head[0]
    try:
        rest, stderr = child.communicate(timeout=settings.timeout_s)
    except subprocess.TimeoutExpired:
        raise ParseTimeout(f"wall clock > {settings.timeout_s}s") from None
    return early + rest, stderr


def _read_reply(done: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise ParseTimeout(f"child killed by signal {-done.returncode}")
    try:
        reply = json.loads(done.stdout or b"{}")
    except ValueError:
        reply = {}
    if "ok" in reply:
        return dict(reply["ok"])
    if "error" in reply:
        error = reply["error"]
        raise rejection_from_code(error["code"], error["detail"], error.get("user_message"))
    stderr = done.stderr.decode("utf-8", "replace")[-500:]
    if "MemoryError" in stderr or done.returncode == -signal.SIGSEGV:
        raise ParseResourceLimit(f"child failed: rc={done.returncode} {stderr}")
    raise CorruptDocument(f"child failed without a reply: rc={done.returncode} {stderr}")


def _title(metadata: dict[str, str], sections: tuple[Section, ...], display_name: str) -> str:
    if metadata.get("title"):
        return metadata["title"][:200]
    for section in sections:
        if section.heading_path:
            return section.heading_path[0][:200]
    stem = display_name.rsplit(".", 1)[0]
    return stem or display_name


def _warnings(metadata: dict[str, str], sections: tuple[Section, ...]) -> tuple[str, ...]:
    warnings = []
    if metadata.get("hidden_runs"):
        warnings.append(
            f"{metadata['hidden_runs']} hidden (white, tiny or vanished) text runs extracted as data"
        )
    if metadata.get("hidden_elements"):
        warnings.append(f"{metadata['hidden_elements']} hidden HTML elements; their text is treated as data")
    if any(section.kind == "comment" for section in sections):
        warnings.append("reviewer comments extracted as data")
    return tuple(warnings)


__all__ = ["DocumentRejected", "parse_document_safely"]
