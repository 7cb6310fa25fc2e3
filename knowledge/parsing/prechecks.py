"""Cheap checks before any parser touches a file: type allowlist, size, magic bytes, zip inventory.

They run in the calling process and read at most a few kilobytes plus a zip's central directory;
nothing is decompressed here. Anything that needs real parsing (encryption, page counts, XML
declarations) is checked in the sandboxed child instead.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from knowledge.parsing.errors import (
    CorruptDocument,
    EmptyDocument,
    FileTooLarge,
    SuspiciousArchive,
    TypeMismatch,
    UnsupportedType,
)
from knowledge.parsing.filenames import extension_of
from knowledge.settings import DocumentKind, ParsingSettings

KIND_BY_EXTENSION: dict[str, DocumentKind] = {
    "pdf": "pdf",
    "docx": "docx",
    "md": "markdown",
    "markdown": "markdown",
    "txt": "text",
    "text": "text",
    "html": "html",
    "htm": "html",
}
# Signatures of binary formats that must never be read as text, whatever the extension says.
_BINARY_SIGNATURES = (
    b"%PDF-",
    b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0",
    b"\x7fELF",
    b"MZ",
    b"\x1f\x8b",
    b"Rar!",
    b"7z\xbc\xaf",
)
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def detect_kind(display_name: str, settings: ParsingSettings) -> DocumentKind:
    kind = KIND_BY_EXTENSION.get(extension_of(display_name))
    if kind is None or kind not in settings.allowed_kinds:
        raise UnsupportedType(f"extension {extension_of(display_name)!r} is not allowed")
    return kind


def check_file(path: Path, kind: DocumentKind, settings: ParsingSettings) -> None:
    """Size, emptiness and magic bytes; raises a `DocumentRejected` subclass."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyDocument("file has 0 bytes")
    if size > settings.max_file_bytes:
        limit_mb = settings.max_file_bytes / 1_048_576
        raise FileTooLarge(
            f"{size} bytes > {settings.max_file_bytes}",
            user_message=f"This file is larger than the {limit_mb:.0f} MB upload limit.",
        )
    with path.open("rb") as handle:
        head = handle.read(8192)
    if kind == "pdf":
        # The PDF spec tolerates junk before the header, within the first kilobyte.
        if b"%PDF-" not in head[:1024]:
            raise TypeMismatch("no %PDF- header")
    elif kind == "docx":
        if not head.startswith(b"PK\x03\x04"):
            raise TypeMismatch("not a zip container")
        inspect_docx_archive(path, settings)
    else:
        _check_text_head(head)


def _check_text_head(head: bytes) -> None:
    if (
        head.startswith(_TEXT_BOMS)
        or head.startswith(b"\xff\xfe\x00\x00")
        or head.startswith(b"\x00\x00\xfe\xff")
    ):
        return
    if head.startswith(_BINARY_SIGNATURES):
        raise TypeMismatch("binary signature in a text file")


def inspect_docx_archive(path: Path, settings: ParsingSettings) -> None:
    """Reject zip bombs from the central directory alone: entries, total size, ratio."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptDocument(f"bad zip: {exc}") from None
    if len(infos) > settings.max_zip_entries:
        raise SuspiciousArchive(f"{len(infos)} zip entries")
    names = {info.filename for info in infos}
    if "word/document.xml" not in names:
        raise TypeMismatch("zip without word/document.xml (not a Word document)")
    total = sum(info.file_size for info in infos)
    compressed = sum(info.compress_size for info in infos)
    if total > settings.max_zip_uncompressed_bytes:
        raise SuspiciousArchive(f"uncompressed size {total}")
    for info in infos:
        # Tiny entries compress well by nature; the ratio matters for the big ones.
        if info.file_size > 1_048_576 and info.file_size > settings.max_zip_ratio * max(
            info.compress_size, 1
        ):
            raise SuspiciousArchive(
                f"entry {info.filename!r} ratio {info.file_size / max(info.compress_size, 1):.0f}"
            )
    if total > 1_048_576 and total > settings.max_zip_ratio * max(compressed, 1):
        raise SuspiciousArchive(f"overall ratio {total / max(compressed, 1):.0f}")
