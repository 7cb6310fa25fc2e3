"""Word (.docx) through python-docx, after every XML part passed defusedxml with DTDs forbidden.

Headings give the section path, tables become "a | b" rows, headers/footers and comments become
their own sections. White, 1-pt and vanished runs are extracted into sections flagged `hidden`:
they reach classification and spotlighting as data, and the model never treats them as orders.
Runs only inside the sandboxed parser child.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from docx.document import Document as DocxDocument
from docx.table import Table
from docx.text.hyperlink import Hyperlink
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from knowledge.parsing.documents import SectionDraft
from knowledge.parsing.errors import CorruptDocument, UnsafeXml

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_WHITE = "FFFFFF"


def check_xml_parts(path: Path) -> None:
    """Reject DTDs and entity declarations in any XML part (billion laughs, external entities)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith((".xml", ".rels")):
                continue
            try:
                fromstring(archive.read(info), forbid_dtd=True, forbid_entities=True, forbid_external=True)
            except DefusedXmlException as exc:
                raise UnsafeXml(f"{info.filename}: {type(exc).__name__}") from None
            except Exception as exc:
                raise CorruptDocument(f"{info.filename}: {exc}") from None


def read_docx(path: Path) -> tuple[list[SectionDraft], dict[str, str]]:
    check_xml_parts(path)
    try:
        document = docx.Document(str(path))
    except Exception as exc:
        raise CorruptDocument(f"python-docx could not open it: {exc}") from None
    walker = _BodyWalker()
    for block in document.iter_inner_content():
        walker.visit(block)
    drafts = walker.finish()
    drafts += _headers_and_footers(document)
    drafts += _comments(path)
    metadata = {"title": (document.core_properties.title or "").strip()}
    if walker.hidden_runs:
        metadata["hidden_runs"] = str(walker.hidden_runs)
    return drafts, metadata


class _BodyWalker:
    """Accumulates body paragraphs into sections that break at headings."""

    def __init__(self) -> None:
        self.drafts: list[SectionDraft] = []
        self.path: list[tuple[int, str]] = []
        self.lines: list[str] = []
        self.hidden: list[str] = []
        self.hidden_runs = 0

    def visit(self, block: Paragraph | Table) -> None:
        if isinstance(block, Table):
            self._flush()
            rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows]
            self.drafts.append(SectionDraft(text="\n".join(rows), heading_path=self._titles(), kind="table"))
            return
        level = _heading_level(block)
        visible, hidden = self._split_runs(block)
        if level is not None and visible.strip():
            self._flush()
            self.path = [(lvl, t) for lvl, t in self.path if lvl < level] + [(level, visible.strip())]
        self.lines.append(visible)
        if hidden.strip():
            self.hidden.append(hidden)

    def _split_runs(self, paragraph: Paragraph) -> tuple[str, str]:
        visible: list[str] = []
        hidden: list[str] = []
        for item in paragraph.iter_inner_content():
            if isinstance(item, Run) and _is_hidden_run(item):
                self.hidden_runs += 1
                hidden.append(item.text)
            elif isinstance(item, Run | Hyperlink):
                visible.append(item.text)
        return "".join(visible), "".join(hidden)

    def _titles(self) -> tuple[str, ...]:
        return tuple(title for _, title in self.path)

    def _flush(self) -> None:
        self.drafts.append(SectionDraft(text="\n\n".join(self.lines), heading_path=self._titles()))
        if self.hidden:
            self.drafts.append(
                SectionDraft(text="\n".join(self.hidden), heading_path=self._titles(), hidden=True)
            )
        self.lines, self.hidden = [], []

    def finish(self) -> list[SectionDraft]:
        self._flush()
        return self.drafts


def _heading_level(paragraph: Paragraph) -> int | None:
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, ValueError):
        return None
    if name == "Title":
        return 1
    if name and name.startswith("Heading"):
        digits = name.removeprefix("Heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


def _is_hidden_run(run: Run) -> bool:
    font = run.font
    if font.hidden:
        return True
    if font.size is not None and font.size.pt <= 2:
        return True
    try:
        return font.color is not None and font.color.type is not None and str(font.color.rgb) == _WHITE
    except (AttributeError, ValueError):
        return False


def _headers_and_footers(document: DocxDocument) -> list[SectionDraft]:
    seen: set[str] = set()
    drafts: list[SectionDraft] = []
    for section in document.sections:
        for part in (section.header, section.footer):
            text = "\n".join(p.text for p in part.paragraphs).strip()
            if text and text not in seen:
                seen.add(text)
                drafts.append(SectionDraft(text=text, kind="header_footer"))
    return drafts


def _comments(path: Path) -> list[SectionDraft]:
    """Reviewer comments are content too (and a classic place to hide instructions)."""
    with zipfile.ZipFile(path) as archive:
        if "word/comments.xml" not in archive.namelist():
            return []
        root = fromstring(archive.read("word/comments.xml"), forbid_dtd=True)
    drafts = []
    for comment in root.iter(f"{_W}comment"):
        author = comment.get(f"{_W}author") or "unknown"
        text = "".join(node.text or "" for node in comment.iter(f"{_W}t"))
        if text.strip():
            drafts.append(SectionDraft(text=f"Comment by {author}: {text}", kind="comment", hidden=True))
    return drafts
