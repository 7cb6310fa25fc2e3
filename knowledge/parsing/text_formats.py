"""Plain text and Markdown: decoding that survives BOMs, BOM-less UTF-16 and legacy code pages.

Markdown is split at ATX headings (outside code fences) so chunks know their heading path; the
Markdown itself is kept as text (links and images are data, never fetched).
"""

from __future__ import annotations

import codecs
import re

from knowledge.parsing.documents import SectionDraft
from knowledge.parsing.errors import TypeMismatch

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): BOM first, then BOM-less UTF-16 by its NUL pattern, UTF-8, then cp1252."""
    for bom, encoding in _BOMS:  # UTF-32 LE before UTF-16 LE: its BOM starts the same way
        if data.startswith(bom):
            return _checked(data[len(bom) :].decode(encoding, errors="replace")), encoding
    utf16 = _bomless_utf16(data)
    if utf16:
        return _checked(data.decode(utf16, errors="replace")), utf16
    try:
        return _checked(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    # cp1252 is what legacy "ANSI" files almost always are; undefined bytes become U+FFFD.
    return _checked(data.decode("cp1252", errors="replace")), "cp1252"


def _bomless_utf16(data: bytes) -> str | None:
    sample = data[:4096]
    half = len(sample) // 2
    if half < 2:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


def _checked(text: str) -> str:
    """Refuse binary data that happened to decode: text has almost no control characters."""
    sample = text[:20000]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if sample and controls > 0.01 * len(sample):
        raise TypeMismatch(f"{controls} control characters in the first {len(sample)}: binary data")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_plain_text(data: bytes) -> tuple[list[SectionDraft], dict[str, str]]:
    text, encoding = decode_text(data)
    # Form feeds are page breaks in plain text exports; keep them as pages when present.
    pages = text.split("\f")
    if len(pages) > 1:
        drafts = [SectionDraft(text=page, page=number) for number, page in enumerate(pages, start=1)]
    else:
        drafts = [SectionDraft(text=text)]
    return drafts, {"encoding": encoding}


def read_markdown(data: bytes) -> tuple[list[SectionDraft], dict[str, str]]:
    text, encoding = decode_text(data)
    drafts: list[SectionDraft] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        drafts.append(SectionDraft(text="\n".join(lines), heading_path=tuple(title for _, title in path)))
        lines = []
        level = len(heading.group(1))
        path = [(lvl, title) for lvl, title in path if lvl < level] + [(level, heading.group(2).strip())]
        # The heading line stays in the text so a chunk reads naturally and BM25 sees it.
        lines.append(line)
    drafts.append(SectionDraft(text="\n".join(lines), heading_path=tuple(title for _, title in path)))
    title = next((t for lvl, t in _all_headings(text) if lvl == 1), "")
    return drafts, {"encoding": encoding, "title": title}


def _all_headings(text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _HEADING.match(line)):
            found.append((len(match.group(1)), match.group(2).strip()))
    return found
