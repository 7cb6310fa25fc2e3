"""The vector store: Chroma, embedded (one owning process) or a Chroma server, with our embeddings.

We always pass embeddings ourselves; Chroma's default embedding function is never instantiated
(it would download a model). Telemetry is off. Chunks are addressed by `version_id` so a whole
document version can be written, or removed, as a unit; the registry decides which version is
visible. This module never decides access: callers pass the `where` filter built in `access`.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from knowledge.settings import ChromaSettings

ADD_BATCH = 500


class StoredChunk(BaseModel):
    model_config = ConfigDict(frozen=True)

    chunk_id: str
    text: str
    metadata: dict[str, Any]
    # Cosine similarity to the query (dense search only).
    similarity: float | None = None


def open_client(settings: ChromaSettings, default_path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ClientSettings

    client_settings = ClientSettings(anonymized_telemetry=False)
    if settings.mode == "http":
        headers = {name: value.get_secret_value() for name, value in settings.headers.items()}
        return chromadb.HttpClient(
            host=settings.host,
            port=settings.port,
            ssl=settings.ssl,
            headers=headers,
            settings=client_settings,
        )
    path = settings.path or default_path
    path.mkdir(parents=True, exist_ok=True)
    _hold_exclusive_lock(path / "confidante.lock")
    return chromadb.PersistentClient(path=str(path), settings=client_settings)


class StoreInUse(RuntimeError):
    """Another process owns the embedded store; the message says what to do instead."""


_held_locks: dict[str, int] = {}


def _hold_exclusive_lock(lock_path: Path) -> None:
    """Embedded Chroma is not multi-process safe: one process owns it, others are refused.

    The lock lives as long as the process (the kernel releases it on exit, even after kill -9).
    """
    key = str(lock_path.resolve())
    if key in _held_locks:
        return
    fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreInUse(
            "the knowledge base is in use by another Confidante process (probably the running app); "
            'stop it first, or run a Chroma server and set knowledge.chroma.mode = "http"'
        ) from None
    _held_locks[key] = fd


class KnowledgeStore:
    def __init__(self, client: Any, collection_name: str) -> None:
        self.client = client
        # embedding_function=None: we always bring vectors; Chroma's default would download one.
        self.collection = client.get_or_create_collection(
            name=collection_name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        for begin in range(0, len(ids), ADD_BATCH):
            end = begin + ADD_BATCH
            self.collection.add(
                ids=list(ids[begin:end]),
                documents=list(texts[begin:end]),
                embeddings=[list(v) for v in embeddings[begin:end]],
                metadatas=list(metadatas[begin:end]),
            )

    def delete_version(self, version_id: str) -> None:
        self.collection.delete(where={"version_id": {"$eq": version_id}})

    def query(self, embedding: Sequence[float], *, where: dict[str, Any] | None, n: int) -> list[StoredChunk]:
        if n <= 0:
            return []
        result = self.collection.query(
            query_embeddings=[list(embedding)],
            n_results=n,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0]
        docs = (result.get("documents") or [[]])[0] or []
        metas = (result.get("metadatas") or [[]])[0] or []
        dists = (result.get("distances") or [[]])[0] or []
        return [
            StoredChunk(chunk_id=i, text=t or "", metadata=dict(m or {}), similarity=1.0 - float(d))
            for i, t, m, d in zip(ids, docs, metas, dists, strict=True)
        ]

    def nearest_ids(self, embedding: Sequence[float], *, n: int) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the n nearest chunks, nothing else (the fastest query).

        Access has not been applied: never return these to a user as they are (see
        `knowledge.dense_search`)."""
        if n <= 0:
            return []
        result = self.collection.query(query_embeddings=[list(embedding)], n_results=n, include=["distances"])
        dists = (result.get("distances") or [[]])[0] or []
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], dists, strict=True)]

    def iterate_versions(self, version_ids: Sequence[str], page: int = 5000) -> Iterator[StoredChunk]:
        """Every chunk of these versions (for the lexical index's incremental update)."""
        for begin in range(0, len(version_ids), 100):
            where = {"version_id": {"$in": list(version_ids[begin : begin + 100])}}
            offset = 0
            while True:
                result = self.collection.get(
                    where=where, include=["documents", "metadatas"], limit=page, offset=offset
                )
                batch = _stored(result)
                yield from batch
                if len(batch) < page:
                    break
                offset += page

    def vectors_of_version(self, version_id: str) -> dict[str, tuple[dict[str, Any], list[float]]]:
        """Each chunk of a version by its text: its metadata and stored embedding (re-ingest reuse)."""
        result = self.collection.get(
            where={"version_id": {"$eq": version_id}}, include=["documents", "metadatas", "embeddings"]
        )
        docs = result.get("documents") or []
        metas = result.get("metadatas") or []
        vectors = result.get("embeddings")
        vectors = [] if vectors is None else vectors
        return {
            text or "": (dict(meta or {}), [float(x) for x in vector])
            for text, meta, vector in zip(docs, metas, vectors, strict=True)
        }

    def get(self, chunk_ids: Sequence[str]) -> list[StoredChunk]:
        if not chunk_ids:
            return []
        result = self.collection.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        return _stored(result)

    def iterate_all(self, page: int = 5000) -> Iterator[StoredChunk]:
        offset = 0
        while True:
            result = self.collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            batch = _stored(result)
            yield from batch
            if len(batch) < page:
                return
            offset += page

    def version_ids_present(self) -> set[str]:
        return {str(chunk.metadata.get("version_id")) for chunk in self.iterate_all()}

    def count(self) -> int:
        return int(self.collection.count())


def _stored(result: Any) -> list[StoredChunk]:
    docs = result.get("documents") or []
    metas = result.get("metadatas") or []
    return [
        StoredChunk(chunk_id=i, text=t or "", metadata=dict(m or {}))
        for i, t, m in zip(result["ids"], docs, metas, strict=True)
    ]
