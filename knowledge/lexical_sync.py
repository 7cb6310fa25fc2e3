"""Keeps the lexical index in step with the committed chunks in the store, by the delta.

After an ingest or a delete the registry's fingerprint changes; here we retire the rows of
versions no longer committed and append the chunks of newly committed versions, reading only
those from the store. A full rebuild happens only when the index has nothing yet (first start,
or a persisted index that could not be read). This module never decides access: each row keeps
the ACL tokens of its chunk for the index's mask.
"""

from __future__ import annotations

from collections.abc import Iterable

from knowledge.access import acl_tokens
from knowledge.ingestion import indexed_text
from knowledge.lexical import LexicalIndex
from knowledge.store import KnowledgeStore, StoredChunk


def sync_lexical(
    index: LexicalIndex, store: KnowledgeStore, *, fingerprint: str, visible: set[str]
) -> LexicalIndex:
    """Bring `index` to the committed versions `visible` (registry state `fingerprint`)."""
    # One sync at a time, checked again under the lock: two would append the same version twice.
    with index.lock:
        if index.fingerprint == fingerprint:
            return index
        present = index.versions()
        index.remove_versions(present - visible)
        added = sorted(visible - present)
        if added:
            _append(index, store.iterate_versions(added))
        index.fingerprint = fingerprint
        index.save()
    return index


def rebuild_lexical(
    index: LexicalIndex, store: KnowledgeStore, *, fingerprint: str, visible: set[str]
) -> LexicalIndex:
    """The full rebuild from every stored chunk (the old path; benches compare against it)."""
    ids, texts, acls, versions = _rows(
        c for c in store.iterate_all() if c.metadata.get("version_id") in visible
    )
    index.build(fingerprint, ids, texts, acls, versions)
    return index


def _append(index: LexicalIndex, chunks: Iterable[StoredChunk]) -> None:
    ids, texts, acls, versions = _rows(chunks)
    index.add(ids, texts, acls, versions)


def _rows(chunks: Iterable[StoredChunk]) -> tuple[list[str], list[str], list[list[str]], list[str]]:
    ids: list[str] = []
    texts: list[str] = []
    acls: list[list[str]] = []
    versions: list[str] = []
    for chunk in chunks:
        meta = chunk.metadata
        ids.append(chunk.chunk_id)
        versions.append(str(meta.get("version_id")))
        texts.append(indexed_text(str(meta.get("title", "")), str(meta.get("section", "")), chunk.text))
        groups = [g for g in str(meta.get("groups", "")).split(",") if g]
        acls.append(
            acl_tokens(
                owner=str(meta.get("acl_owner", "")), groups=groups, public=bool(meta.get("acl_public"))
            )
        )
    return ids, texts, acls, versions
