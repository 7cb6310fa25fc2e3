"""Settings for ingestion, embeddings, the vector store and retrieval (a section of the settings tree).

Every limit that protects the server from a hostile upload lives here, with a safe default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

# The MiniLM encoder and tokenizer pins live with the embedder, in `models.embeddings`.
from models.embeddings import (
    MINILM_ONNX_FILE,
    MINILM_ONNX_PACKAGE,
    MINILM_ONNX_SHA256,
    MINILM_TOKENIZER_FILE,
    MINILM_TOKENIZER_PACKAGE,
    MINILM_TOKENIZER_SHA256,
)

DocumentKind = Literal["pdf", "docx", "markdown", "text", "html"]
ALL_KINDS: tuple[DocumentKind, ...] = ("pdf", "docx", "markdown", "text", "html")


class ParsingSettings(BaseModel):
    """Limits for reading one uploaded or ingested file; anything beyond them is refused."""

    # pydantic copies mutable defaults per instance.
    allowed_kinds: list[DocumentKind] = ["pdf", "docx", "markdown", "text", "html"]
    max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    max_pages: int = Field(default=500, ge=1)
    # Extracted text beyond this is refused rather than truncated silently.
    max_chars: int = Field(default=5_000_000, ge=1000)
    # DOCX (zip) inspection, done before anything is decompressed.
    max_zip_entries: int = Field(default=2000, ge=1)
    max_zip_uncompressed_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    max_zip_ratio: float = Field(default=100.0, gt=1)
    # The parser child process: CPU seconds, address space and wall-clock bound.
    cpu_seconds: int = Field(default=20, ge=1)
    memory_bytes: int = Field(default=1536 * 1024 * 1024, ge=256 * 1024 * 1024)
    timeout_s: float = Field(default=25.0, gt=0)
    # The child's start-up (interpreter and imports, before the file is opened): not the file's fault,
    # so it has its own bound and never counts against timeout_s.
    startup_timeout_s: float = Field(default=60.0, gt=0)


class EmbeddingSettings(BaseModel):
    """Which embedding model turns text into vectors; `onnx_minilm` is bundled and offline."""

    backend: Literal["onnx_minilm"] = "onnx_minilm"
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
    # onnxruntime intra-op threads; None = min(2, cpu count), so embedding never starves the chat.
    threads: int | None = Field(default=None, ge=1)


class ChromaSettings(BaseModel):
    """Embedded (one process owns it) by default; a Chroma server for bigger deployments."""

    mode: Literal["persistent", "http"] = "persistent"
    # Overrides `<data_dir>/chroma` for the persistent mode.
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    ssl: bool = False
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    collection: str = "confidante_knowledge"


class JudgeSettings(BaseModel):
    """When the relevance judge runs and how its verdict moves the order.

    The defaults are the rule `confidante eval rag --judge` chose on the train splits (Qwen 1.5B;
    rag_tech train and the first 645 SQuAD train questions): best train recall@1 in the grid.
    """

    # Judge when the top two fused probabilities are closer than this ...
    margin: float = Field(default=0.3, ge=0, le=1)
    # ... or when the passage with the highest cosine is not the fusion's top one (off: on train
    # it made the judge run on ~40 % of questions and helped less than the margin alone).
    on_dense_disagreement: bool = False
    # Combined score: logit(fused probability) + weight * logit(P(yes)).
    weight: float = Field(default=1.0, ge=0)
    # Both judgements together; past it the fusion's order stands (never blocks the answer).
    timeout_s: float = Field(default=8.0, gt=0)
    # Characters of a passage the judge reads (bounds the prompt, hence the time).
    max_passage_chars: int = Field(default=1200, ge=100)


class RerankSettings(BaseModel):
    """The learned-fusion reranker over hybrid candidates (see `knowledge.rerank`)."""

    enabled: bool = True
    # Hybrid candidates the reranker reorders; the caller's k are then taken from the new order.
    candidates: int = Field(default=20, ge=2, le=100)
    # Late interaction (MaxSim over MiniLM token vectors): better order (rag_tech held-out recall@1
    # 0.75 -> 0.81), but uncached passages cost ~4 s per 20 on 2 cores (cached: ~80 ms), so off.
    late_interaction: bool = False
    # Token vectors kept in memory for late interaction (passages, keyed by their text).
    token_cache_entries: int = Field(default=4096, ge=0)
    # Another fitted weights file (same features, same digest rule) instead of the bundled one.
    fusion_path: Path | None = None
    # The private model's yes/no relevance judgement of the top two passages, only when the
    # fusion's signals disagree (`knowledge.relevance_judge`); "auto" runs it when the model is idle.
    # Off: held-out recall@1 gained little (rag_tech 0.750 -> 0.792, SQuAD 0.888 -> 0.895; recall@5
    # unchanged) for a wait of 10-50 s per judged question on this loaded 2-core machine (p50),
    # asked on 15-17 % of questions; within the 8 s budget it would mostly time out here.
    judge: Literal["off", "auto"] = "off"
    judge_settings: JudgeSettings = JudgeSettings()


class RetrievalSettings(BaseModel):
    # Candidates fetched from each retriever before fusion.
    candidates: int = Field(default=40, ge=1)
    rrf_k: int = Field(default=60, ge=1)
    # Added to the fused score, scaled by the share of exact terms a chunk contains.
    exact_match_boost: float = Field(default=0.02, ge=0)
    # Admins see what their groups allow, like everyone else, unless this is set.
    admins_see_everything: bool = False
    rerank: RerankSettings = RerankSettings()


class ChunkingSettings(BaseModel):
    target_tokens: int = Field(default=220, ge=32)
    overlap_tokens: int = Field(default=30, ge=0)


class ConfidenceSettings(BaseModel):
    """Weights of the answerability score (fitted with `confidante eval-rag --calibrate`)."""

    bias: float = -9.5
    w_dense: float = 11.0
    w_lexical: float = 2.0
    # Coverage carries as much as meaning: MiniLM scores short, name-heavy passages low even when
    # they hold every key word of the question (a payroll record asked about its bonus).
    w_coverage: float = 6.0
    w_agreement: float = 0.6
    # Below this answerability probability the pipeline says "not found" instead of answering.
    answerable_threshold: float = Field(default=0.3, ge=0, le=1)
    high_threshold: float = Field(default=0.7, ge=0, le=1)


class KnowledgeSettings(BaseModel):
    enabled: bool = True
    parsing: ParsingSettings = ParsingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chroma: ChromaSettings = ChromaSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    confidence: ConfidenceSettings = ConfidenceSettings()
    # Tokens of retrieved sources allowed in a grounded prompt.
    # Passages in a grounded prompt: about three chunks, so the small local model answers quickly.
    context_tokens: int = Field(default=700, ge=64)
