"""Dense (vector) search with access control applied before the top n is chosen.

Chroma's filtered query (`where` from `access.chroma_where`) is exact but slow on a large
collection (about 1.3 s at 100k chunks on 2 cores), while its unfiltered HNSW query takes a few
milliseconds. So we over-fetch the ids of the unfiltered top m = n × `overfetch`, apply the same
ACL rule to *all* m (the lexical index's ACL rows, or `access.metadata_allows`), and keep the first
n allowed. That equals the filtered
answer whenever it has n allowed hits (any allowed chunk nearer than the n-th would be among the
m) or m covers the whole collection. Otherwise hidden chunks crowded the list, and we run the
filtered query instead: never return a short list, which would tell the user that hidden
documents exist near their question. This module must never return a chunk the principal may not
read, nor a result that depends on what they may not read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from knowledge.access import Principal, chroma_where, metadata_allows, sees_everything
from knowledge.store import KnowledgeStore, StoredChunk

DensePath = Literal["bypass", "overfetch", "filtered"]
Readable = Callable[[Sequence[str]], list[bool]]
# Measured in bench/bench_query.py: ×10 serves a user who can read a few % of 100k chunks.
DEFAULT_OVERFETCH = 10


class DenseResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    chunks: list[StoredChunk]
    # Which query answered (for benches and tests; never shown to the user).
    path: DensePath


def dense_search(
    store: KnowledgeStore,
    embedding: Sequence[float],
    principal: Principal,
    *,
    n: int,
    readable: Readable | None = None,
    admins_see_everything: bool = False,
    overfetch: int = DEFAULT_OVERFETCH,
    fetch: bool = True,
) -> DenseResult:
    """The n nearest chunks `principal` may read, nearest first.

    `readable(ids)` answers the ACL for a list of chunk ids by the same rule as `chroma_where`
    (the lexical index's rows, in memory); without it the chunks' metadata is read from the store.
    `fetch=False` returns over-fetched hits as stubs (id and similarity, no text or metadata)."""
    if sees_everything(principal, admins_see_everything=admins_see_everything):
        return DenseResult(chunks=store.query(embedding, where=None, n=n), path="bypass")
    if n <= 0:
        return DenseResult(chunks=[], path="overfetch")
    m = n * max(overfetch, 1)
    nearest = store.nearest_ids(embedding, n=m)
    check = readable or _by_metadata(store, principal)
    flags = check([chunk_id for chunk_id, _ in nearest])
    allowed = [hit for hit, ok in zip(nearest, flags, strict=True) if ok]
    # A list shorter than m means the collection holds fewer than m chunks: we saw all of them.
    if len(allowed) >= n or len(nearest) < m:
        chosen = allowed[:n]
        if not fetch:  # the caller reads text and metadata itself, with its other ids in one call
            stubs = [StoredChunk(chunk_id=i, text="", metadata={}, similarity=sim) for i, sim in chosen]
            return DenseResult(chunks=stubs, path="overfetch")
        return DenseResult(chunks=_fetch(store, chosen), path="overfetch")
    where = chroma_where(principal, admins_see_everything=admins_see_everything)
    return DenseResult(chunks=store.query(embedding, where=where, n=n), path="filtered")


def _by_metadata(store: KnowledgeStore, principal: Principal) -> Readable:
    def readable(chunk_ids: Sequence[str]) -> list[bool]:
        metadata = {chunk.chunk_id: chunk.metadata for chunk in store.get(chunk_ids)}
        return [metadata_allows(principal, metadata.get(chunk_id, {})) for chunk_id in chunk_ids]

    return readable


def _fetch(store: KnowledgeStore, hits: list[tuple[str, float]]) -> list[StoredChunk]:
    """Text and metadata of the chosen hits, in their order (a chunk deleted meanwhile drops out)."""
    by_id = {chunk.chunk_id: chunk for chunk in store.get([chunk_id for chunk_id, _ in hits])}
    return [
        by_id[chunk_id].model_copy(update={"similarity": similarity})
        for chunk_id, similarity in hits
        if chunk_id in by_id
    ]
