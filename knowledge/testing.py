"""Test doubles and shared heavy objects for tests that use the knowledge base.

`HashingEmbedder` is a deterministic fake for unit tests of logic (bag of hashed words, no model).
`shared_onnx_embedder()` loads the real ONNX embedder once per process, so integration tests in
different modules share one session instead of loading it per test.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Sequence

from knowledge.embeddings import OnnxMiniLMEmbedder


class HashingEmbedder:
    """Words hashed into a fixed number of buckets, L2-normalised: similar words → similar vectors."""

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dimension}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self._dimension
            for word in re.findall(r"\w+", text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                vector[bucket % self._dimension] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            vectors.append([v / norm for v in vector])
        return vectors


@functools.cache
def shared_onnx_embedder() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder()
