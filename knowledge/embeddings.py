"""The knowledge base's embedding seam: which embedder its settings name.

The MiniLM ONNX embedder itself lives in `models.embeddings` (the sensitivity gate uses it too);
this module keeps the knowledge-side API (`Embedder`, `OnnxMiniLMEmbedder`, `build_embedder`).
"""

from __future__ import annotations

from knowledge.settings import EmbeddingSettings
from models.embeddings import Embedder, MiniLMSettings, OnnxMiniLMEmbedder

__all__ = ["Embedder", "MiniLMSettings", "OnnxMiniLMEmbedder", "build_embedder"]


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder named by the settings (one backend today; the protocol is the extension point)."""
    if settings.backend == "onnx_minilm":
        return OnnxMiniLMEmbedder(settings)
    raise ValueError(f"unknown embedding backend {settings.backend!r}")
