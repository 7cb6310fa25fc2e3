"""Page and section references for summary points, and the checks that keep them honest.

A reference names where a point comes from, as a reader would look it up: `p. 3` for a page,
`§ Scope` for a heading. A model may only cite references that were in its input; anything else
is dropped or re-attached to the section that actually supports the point. "Supports" is a
deterministic word-overlap test: a share of the point's content words must occur in the cited
section. Nothing here calls a model; an unsupported point never reaches the summary as if it
were grounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from knowledge.parsing.documents import Section

_WORD = re.compile(r"[^\W\d_]{3,}|\d+(?:[.,]\d+)*", re.UNICODE)
_MARKER = re.compile(r"\[\s*((?:p(?:age|\.)?|§|pp?\.)\s*[^\]]{1,80})\]", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_STOP = frozenset(
    {
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "not",
        "but",
        "its",
        "their",
        "they",
        "them",
        "into",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "also",
        "than",
        "then",
        "there",
        "these",
        "those",
        "such",
        "been",
        "being",
        "our",
        "your",
        "his",
        "her",
        "about",
        "over",
        "under",
        "more",
        "most",
        "other",
        "some",
        "any",
        "each",
        "all",
        "per",
        "via",
        "upon",
        "onto",
        "very",
        "just",
        "only",
    }
)


def ref_for(section: Section, index: int) -> str:
    """The label a reader uses to find `section`: its page, else its heading, else its position."""
    if section.page is not None:
        return f"p. {section.page}"
    if section.heading_path:
        return f"§ {section.heading_path[-1].strip()[:60]}"
    return f"§ {index + 1}"


def normalize_ref(raw: str) -> str:
    """'page 3', 'p3', '[p. 3]', 'P. 3' → 'p. 3'; '§2.1 Scope' → '§ 2.1 Scope'."""
    text = raw.strip().strip("[]").strip()
    page = re.fullmatch(r"(?:pp?\.?|pages?)\s*(\d+)", text, re.IGNORECASE)
    if page:
        return f"p. {int(page.group(1))}"
    if text.isdigit():
        return f"p. {int(text)}"
    if text.startswith("§"):
        return "§ " + text[1:].strip()
    return text


def content_words(text: str) -> set[str]:
    return {word for word in (w.casefold() for w in _WORD.findall(text)) if word not in _STOP}


def novel_specifics(point: str, source: str) -> set[str]:
    """Numbers and mid-sentence capitalized names in `point` that `source` never mentions.

    A small model's typical invention is a specific (a town, a figure); one of them is enough to
    make a point unsupported, however many ordinary words it shares with the page.
    """
    words = point.split()
    specifics = [w for w in words[1:] if w[:1].isupper() or any(c.isdigit() for c in w)]
    known = {w.casefold() for w in _WORD.findall(source)}
    pieces = {piece for word in specifics for piece in _WORD.findall(word)}
    return {piece for piece in pieces if piece.casefold() not in known}


def support(point: str, source: str) -> float:
    """Share of the point's content words found in `source`; 0 when it invents a name or number."""
    words = content_words(point)
    if not words or novel_specifics(point, source):
        return 0.0
    return len(words & content_words(source)) / len(words)


def best_supported_ref(point: str, sources: Mapping[str, str]) -> tuple[str | None, float]:
    best: tuple[str | None, float] = (None, 0.0)
    for ref, text in sources.items():
        score = support(point, text)
        if score > best[1]:
            best = (ref, score)
    return best


def attach_ref(point: str, claimed: str | None, sources: Mapping[str, str], threshold: float) -> str | None:
    """The reference a point may carry: the claimed one if real and supporting, else the best one."""
    if claimed is not None:
        ref = normalize_ref(claimed)
        if ref in sources and support(point, sources[ref]) >= threshold:
            return ref
    best, score = best_supported_ref(point, sources)
    return best if score >= threshold else None


def strip_markers(text: str, allowed: Iterable[str]) -> str:
    """Keep `[p. N]` / `[§ X]` markers that name an allowed reference; remove the rest."""
    known = set(allowed)

    def keep(match: re.Match[str]) -> str:
        ref = normalize_ref(match.group(1))
        return f"[{ref}]" if ref in known else ""

    return re.sub(r"\s+([.,;])", r"\1", _MARKER.sub(keep, text)).strip()


def sentences(text: str, *, complete_only: bool = False) -> list[str]:
    """Sentences of at least four words; `complete_only` drops a fragment cut off by a token limit."""
    found = [s.strip() for s in _SENTENCE.findall(text) if len(s.split()) >= 4]
    if complete_only:
        found = [s for s in found if s[-1] in ".!?"]
    return found
