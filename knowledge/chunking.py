"""Structure-aware chunking: chunks never cross a section (page or heading), prefer paragraph ends.

A chunk is always an exact slice `document.text[start:end]`, so a citation can highlight the
passage in the original text. Long paragraphs are split at sentence ends with a small overlap;
a "sentence" longer than the target is cut at word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from knowledge.parsing.documents import ParsedDocument, Section

# Re-exported: the knowledge base's callers name the estimate from here.
from models.tokens import TokenCounter as TokenCounter
from models.tokens import approximate_tokens as approximate_tokens

_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", re.S)
_SENTENCE = re.compile(r"\S.*?(?:[.!?][\"')\]]*(?=\s)|\n|\Z)", re.S)


class TextChunk(BaseModel):
    """A passage of a parsed document, before it gets ids, ACLs and a tier."""

    model_config = ConfigDict(frozen=True)

    index: int
    text: str
    start: int
    end: int
    page: int | None
    heading_path: tuple[str, ...]
    section_kind: str
    hidden: bool


class _Span(BaseModel):
    start: int
    end: int
    tokens: int
    paragraph_start: bool


def chunk_document(
    document: ParsedDocument,
    *,
    target_tokens: int = 220,
    overlap_tokens: int = 30,
    count_tokens: TokenCounter = approximate_tokens,
) -> list[TextChunk]:
    text = document.text
    chunks: list[TextChunk] = []
    for section in document.sections:
        spans = list(_sentence_spans(text, section, target_tokens, count_tokens))
        for start, end in _pack(spans, target_tokens, overlap_tokens):
            chunks.append(
                TextChunk(
                    index=len(chunks),
                    text=text[start:end],
                    start=start,
                    end=end,
                    page=section.page,
                    heading_path=section.heading_path,
                    section_kind=section.kind,
                    hidden=section.hidden,
                )
            )
    return chunks


def _sentence_spans(text: str, section: Section, target: int, count: TokenCounter) -> Iterator[_Span]:
    body = text[section.start : section.end]
    for paragraph in _PARAGRAPH.finditer(body):
        first = True
        for sentence in _SENTENCE.finditer(paragraph.group()):
            start = section.start + paragraph.start() + sentence.start()
            end = start + len(sentence.group().rstrip())
            for piece_start, piece_end in _cut_long(text, start, end, target, count):
                yield _Span(
                    start=piece_start,
                    end=piece_end,
                    tokens=count(text[piece_start:piece_end]),
                    paragraph_start=first,
                )
                first = False


def _cut_long(text: str, start: int, end: int, target: int, count: TokenCounter) -> Iterator[tuple[int, int]]:
    """A run-on "sentence" (tables, lists without punctuation) cut at word boundaries."""
    if count(text[start:end]) <= target:
        yield start, end
        return
    words = list(re.finditer(r"\S+", text[start:end]))
    piece_start = start
    tokens = 0
    for word in words:
        word_tokens = count(word.group())
        if tokens and tokens + word_tokens > target:
            yield piece_start, start + word.start() - 1
            piece_start, tokens = start + word.start(), 0
        tokens += word_tokens
    yield piece_start, end


def _pack(spans: list[_Span], target: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Greedy packing: close a chunk at a paragraph start when the next paragraph won't fit."""
    current: list[_Span] = []
    tokens = 0
    for index, span in enumerate(spans):
        if current and tokens + span.tokens > target:
            yield current[0].start, current[-1].end
            # Overlap only when we cut inside a paragraph: whole paragraphs stand on their own.
            current = [] if span.paragraph_start else _tail(current, overlap)
            tokens = sum(s.tokens for s in current)
        elif (
            current
            and span.paragraph_start
            and tokens >= target // 4  # a lone heading line is not worth a chunk of its own
            and tokens + _paragraph_tokens(spans, index) > target
        ):
            yield current[0].start, current[-1].end
            current, tokens = [], 0
        current.append(span)
        tokens += span.tokens
    if current:
        yield current[0].start, current[-1].end


def _paragraph_tokens(spans: list[_Span], index: int) -> int:
    total = spans[index].tokens
    for span in spans[index + 1 :]:
        if span.paragraph_start:
            break
        total += span.tokens
    return total


def _tail(spans: list[_Span], overlap: int) -> list[_Span]:
    kept: list[_Span] = []
    tokens = 0
    for span in reversed(spans):
        if tokens + span.tokens > overlap:
            break
        kept.insert(0, span)
        tokens += span.tokens
    return kept
