"""Chunking: exact slices, section boundaries respected, target size and overlap."""

from __future__ import annotations

from knowledge.chunking import approximate_tokens, chunk_document
from knowledge.parsing.documents import ParsedDocument, SectionDraft, assemble_sections


def _doc(drafts: list[SectionDraft]) -> ParsedDocument:
    return ParsedDocument(
        title="T",
        kind="pdf",
        display_name="t.pdf",
        sha256="0" * 64,
        size_bytes=1,
        sections=assemble_sections(drafts),
    )


def test_chunks_are_exact_slices_and_never_cross_pages():
    sentence = "The quick brown fox jumps over the lazy dog near the river bank. "
    doc = _doc([SectionDraft(text=sentence * 40, page=1), SectionDraft(text="Short page two.", page=2)])
    chunks = chunk_document(doc, target_tokens=60, overlap_tokens=15)
    assert len(chunks) > 3
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert approximate_tokens(c.text) <= 60
    assert chunks[-1].page == 2 and chunks[-1].text == "Short page two."
    first, second = chunks[0], chunks[1]
    assert second.start < first.end  # overlap inside a long paragraph


def test_paragraphs_are_kept_whole_when_they_fit():
    paragraphs = [f"Paragraph {i} has a few words in it." for i in range(6)]
    doc = _doc([SectionDraft(text="\n\n".join(paragraphs), heading_path=("A", "B"))])
    chunks = chunk_document(doc, target_tokens=25, overlap_tokens=5)
    for c in chunks:
        assert c.heading_path == ("A", "B")
        assert c.text.startswith("Paragraph") and c.text.endswith(".")
    assert "".join(c.text for c in chunks).count("Paragraph") == 6  # no overlap between whole paragraphs


def test_run_on_text_without_punctuation_is_cut_at_words():
    doc = _doc([SectionDraft(text=" ".join(f"cell{i}" for i in range(500)))])
    chunks = chunk_document(doc, target_tokens=50, overlap_tokens=0)
    assert len(chunks) >= 10
    assert all(not c.text.startswith(" ") and approximate_tokens(c.text) <= 50 for c in chunks)
