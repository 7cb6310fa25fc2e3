"""Dispatch from a document kind to its reader (used inside the parser child only)."""

from __future__ import annotations

import importlib
from pathlib import Path

from knowledge.parsing.documents import SectionDraft
from knowledge.settings import DocumentKind

_READER_MODULES: dict[str, str] = {
    "pdf": "knowledge.parsing.pdf_format",
    "docx": "knowledge.parsing.docx_format",
    "html": "knowledge.parsing.html_format",
}


def preload_reader(kind: DocumentKind) -> None:
    """Import the parsing library for `kind` (start-up cost that no file can change)."""
    importlib.import_module(_READER_MODULES.get(kind, "knowledge.parsing.text_formats"))


def read_by_kind(
    kind: DocumentKind, path: Path, *, max_pages: int
) -> tuple[list[SectionDraft], dict[str, str]]:
    if kind == "pdf":
        from knowledge.parsing.pdf_format import read_pdf

        return read_pdf(path, max_pages=max_pages)
    if kind == "docx":
        from knowledge.parsing.docx_format import read_docx

        return read_docx(path)
    if kind == "html":
        from knowledge.parsing.html_format import read_html

        return read_html(path.read_bytes())
    from knowledge.parsing.text_formats import read_markdown, read_plain_text

    data = path.read_bytes()
    return read_markdown(data) if kind == "markdown" else read_plain_text(data)
