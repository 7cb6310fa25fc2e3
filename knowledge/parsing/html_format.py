"""HTML through BeautifulSoup with the standard-library parser: scripts and styles dropped.

Nothing referenced by the page (images, stylesheets, iframes) is ever fetched. Elements hidden
with `hidden`, `display:none` or `visibility:hidden` are kept as data and counted in a warning:
a hidden instruction is still text we classify and spotlight, never something we obey.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from knowledge.parsing.documents import SectionDraft

_DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "head")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0", re.I)
_BLOCKS = (
    "p",
    "div",
    "li",
    "section",
    "article",
    "blockquote",
    "pre",
    "dd",
    "dt",
    "table",
    "ul",
    "ol",
    "header",
    "footer",
)
_MARK = "\x00"
_MANY_NEWLINES = re.compile(r"\n{3,}")


def read_html(data: bytes) -> tuple[list[SectionDraft], dict[str, str]]:
    # Bytes in, so bs4 honours BOMs and <meta charset> (UTF-16 and cp1252 pages exist).
    soup = BeautifulSoup(data.replace(b"\x00", b"") if not _looks_utf16(data) else data, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    hidden = sum(1 for tag in soup.find_all(True) if _is_hidden(tag))
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for heading in soup.find_all(_HEADINGS):
        level = int(heading.name[1])
        heading.replace_with(f"\n{_MARK}{level}{_MARK}{heading.get_text(' ', strip=True)}\n")
    _mark_layout(soup)
    text = soup.get_text("")
    metadata = {"title": title, "encoding": str(soup.original_encoding or "")}
    if hidden:
        metadata["hidden_elements"] = str(hidden)
    return _split_on_marks(text), metadata


def _mark_layout(soup: BeautifulSoup) -> None:
    """Newlines where the browser would break lines, so inline markup does not split sentences."""
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for cell in soup.find_all(("td", "th")):
        cell.append(" | ")
    for row in soup.find_all("tr"):
        row.append("\n")
    for block in soup.find_all(_BLOCKS):
        block.insert(0, "\n\n")
        block.append("\n\n")


def _looks_utf16(data: bytes) -> bool:
    return data.startswith((b"\xff\xfe", b"\xfe\xff"))


def _is_hidden(tag: Tag) -> bool:
    style = tag.get("style")
    return tag.has_attr("hidden") or (isinstance(style, str) and bool(_HIDDEN_STYLE.search(style)))


def _split_on_marks(text: str) -> list[SectionDraft]:
    drafts: list[SectionDraft] = []
    path: list[tuple[int, str]] = []
    parts = text.split(f"\n{_MARK}")
    drafts.append(SectionDraft(text=_tidy(parts[0])))
    for part in parts[1:]:
        level_text, _, rest = part.partition(_MARK)
        heading, _, body = rest.partition("\n")
        level = int(level_text) if level_text.isdigit() else 6
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, heading.strip())]
        body_text = _tidy(heading + "\n" + body)
        drafts.append(SectionDraft(text=body_text, heading_path=tuple(t for _, t in path)))
    return drafts


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace(_MARK, "").split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()
