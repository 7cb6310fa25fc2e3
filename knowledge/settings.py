"""Settings for ingestion, embeddings, the vector store and retrieval."""

from __future__ import annotations

from pydantic import BaseModel


class KnowledgeSettings(BaseModel):
    enabled: bool = True
