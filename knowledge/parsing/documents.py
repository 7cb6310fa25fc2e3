"""The typed result of parsing one file: text in sections that know where they came from.

A section's `start`/`end` are offsets into `ParsedDocument.text` (sections joined by blank lines),
so chunks and citations can point back at the exact passage. Hidden content (DOCX comments,
white or tiny text, HTML hidden elements) is kept as data and flagged, never dropped silently:
it is classified and spotlighted like everything else, and never obeyed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from knowledge.settings import DocumentKind

SectionKind = Literal["body", "table", "comment", "header_footer", "notes"]
SECTION_SEPARATOR = "\n\n"


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    kind: SectionKind = "body"
    # True when the text was invisible in the original (white, 1-pt, vanished, comment).
    hidden: bool = False

    @property
    def locator(self) -> str:
        """Where this section is, as a person would say it: "page 3" or "Intro › Scope"."""
        if self.page is not None:
            return f"page {self.page}"
        return " › ".join(self.heading_path)


class ParsedDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    kind: DocumentKind
    display_name: str
    sha256: str
    size_bytes: int
    sections: tuple[Section, ...]
    page_count: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return SECTION_SEPARATOR.join(section.text for section in self.sections)


class SectionDraft(BaseModel):
    """A section before offsets are assigned (what the format readers produce)."""

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    kind: SectionKind = "body"
    hidden: bool = False


def assemble_sections(drafts: list[SectionDraft]) -> tuple[Section, ...]:
    """Drop empty drafts and give the rest offsets into the joined document text."""
    sections: list[Section] = []
    cursor = 0
    for draft in drafts:
        text = draft.text.strip()
        if not text:
            continue
        if sections:
            cursor += len(SECTION_SEPARATOR)
        sections.append(Section(start=cursor, end=cursor + len(text), **{**draft.model_dump(), "text": text}))
        cursor += len(text)
    return tuple(sections)
