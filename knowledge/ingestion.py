"""From a parsed document to chunk records: text, metadata (ids, place, ACL, tier) and index text.

The tier of every chunk comes from the `classify` callable (the sensitivity gate). If it raises,
the chunk is treated as regulated: classification fails closed, never open. Each distinct text of a
document goes to the gate once, and in one batch when the classifier offers `many(texts)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from knowledge.access import acl_metadata
from knowledge.chunking import TextChunk
from knowledge.parsing.documents import ParsedDocument
from routing.tiers import Tier

log = logging.getLogger(__name__)
Classifier = Callable[[str], Tier]


class ChunkRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    chunk_id: str
    text: str
    metadata: dict[str, Any]


def indexed_text(title: str, section: str, text: str) -> str:
    """What the embedder and BM25 see: the passage with its document title and section for context."""
    heading = section if section and section != title else ""
    return "\n".join(part for part in (title, heading, text) if part)


def classify_safely(classify: Classifier, text: str) -> Tier:
    try:
        return Tier(classify(text))
    except Exception:  # any failure of the gate means we cannot prove the text is harmless
        log.exception("classification failed; treating the chunk as regulated")
        return Tier.REGULATED


def classify_all(classify: Classifier, texts: Sequence[str]) -> list[Tier]:
    """The tier of each text: one gate call per distinct text, batched through `classify.many`
    when the classifier has it. A failed or malformed batch makes every text regulated."""
    unique = list(dict.fromkeys(texts))
    many = getattr(classify, "many", None)
    if callable(many):
        try:
            tiers = [Tier(tier) for tier in many(unique)]
            if len(tiers) != len(unique):
                raise ValueError(f"{len(tiers)} tiers for {len(unique)} texts")
        except Exception:  # the batch proved nothing harmless
            log.exception("batch classification failed; treating the document's chunks as regulated")
            tiers = [Tier.REGULATED] * len(unique)
    else:
        tiers = [classify_safely(classify, text) for text in unique]
    by_text = dict(zip(unique, tiers, strict=True))
    return [by_text[text] for text in texts]


def chunk_records(
    document: ParsedDocument,
    chunks: Iterable[TextChunk],
    *,
    doc_id: str,
    version_id: str,
    owner: str,
    groups: Iterable[str],
    public: bool,
    classify: Classifier,
) -> list[ChunkRecord]:
    group_list = sorted(set(groups))
    visibility = "public" if public else "groups" if group_list else "private"
    base: dict[str, Any] = {
        "doc_id": doc_id,
        "version_id": version_id,
        "title": document.title,
        "display_name": document.display_name,
        "sha256": document.sha256,
        "visibility": visibility,
        "groups": ",".join(group_list),
        **acl_metadata(owner=owner, groups=group_list, public=public),
    }
    chunk_list = list(chunks)
    tiers = classify_all(classify, [chunk.text for chunk in chunk_list])
    records = []
    for chunk, tier in zip(chunk_list, tiers, strict=True):
        metadata = {
            **base,
            "chunk_index": chunk.index,
            "page": chunk.page if chunk.page is not None else -1,
            "section": " › ".join(chunk.heading_path),
            "section_kind": chunk.section_kind,
            "hidden": chunk.hidden,
            "start": chunk.start,
            "end": chunk.end,
            "tier": tier.value,
        }
        records.append(
            ChunkRecord(chunk_id=f"{version_id}:{chunk.index:06d}", text=chunk.text, metadata=metadata)
        )
    return records
