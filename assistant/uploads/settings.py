"""Settings for document uploads in the chat and their background summaries.

A section of the one settings tree (`Settings.uploads`). The limits here are re-checked on the
server for every file: the browser's own checks (`.chainlit/config.toml`) are never trusted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class UploadSettings(BaseModel):
    enabled: bool = True
    # Files per message and bytes per file; keep in step with [features.spontaneous_file_upload].
    max_files_per_message: int = Field(default=3, ge=1)
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    # Longer documents are refused with a reason (parsing a 400-page PDF alone takes ~18 s here).
    max_pages: int = Field(default=300, ge=1)
    # The parser child's wall-clock bound for an upload; the user gets an answer within ~30 s.
    parse_timeout_s: float = Field(default=20.0, gt=0)
    # Parser child processes at once (each takes a core); more uploads wait their turn.
    max_parallel_parses: int = Field(default=2, ge=1)
    # Time the upload handler may spend classifying pages before replying; the rest is done by the job.
    intake_classify_budget_s: float = Field(default=6.0, ge=0)

    # -- summarization ---------------------------------------------------------------------
    # At most this many map steps (groups of consecutive pages/sections), whatever the length.
    max_map_calls: int = Field(default=12, ge=1)
    # Hard ceiling on model calls for one summary (re-asks and plain-text retries included).
    max_model_calls: int = Field(default=30, ge=2)
    # Document text shown to the model per map step, in the model's tokens.
    map_input_tokens: int = Field(default=900, ge=64)
    # Batching: consecutive sections of one tier share a map step until it holds this many tokens
    # (the map budget above): a 4-page memo is one map call, not four. 0 = one step per share of
    # the document (max_map_calls), the behaviour before batching.
    batch_map_tokens: int = Field(default=900, ge=0)
    # Map steps that may go to a hosted model run this many at a time; steps that only the local
    # model may run (regulated text, local-only routes) stay one after another on its worker.
    hosted_map_concurrency: int = Field(default=4, ge=1, le=16)
    map_answer_tokens: int = Field(default=160, ge=16)
    reduce_answer_tokens: int = Field(default=160, ge=16)
    points_per_map: int = Field(default=3, ge=1, le=8)
    # Re-asks after invalid JSON; SmolLM2 rarely fixes its JSON (bench: budget spent on re-asks), so 0.
    structured_reasks: int = Field(default=0, ge=0, le=3)
    # Share of a point's content words that must appear in the cited section for it to count.
    min_support: float = Field(default=0.5, ge=0.0, le=1.0)

    # -- background worker -----------------------------------------------------------------
    # Where summaries run: "in_process" (the app's own worker, the default) or "procrastinate"
    # (a procrastinate task on the app's PostgreSQL, run by `confidante worker` processes).
    queue: Literal["in_process", "procrastinate"] = "in_process"
    # Staged uploads live under `<shared_dir>/uploads`; every replica and worker must name the same
    # directory (a shared mount) when the queue is not in process. None = the data directory.
    shared_dir: Path | None = None
    # How often a replica reads the progress of jobs it shows from the database (queue mode).
    follow_interval_s: float = Field(default=1.0, gt=0, le=10.0)
    # A replica where nobody has the job's chat open waits this long after seeing the job end
    # before writing its result into the thread, so the replica where the user reopened the chat
    # (which shows it at once) gets it live; keep it above a few `follow_interval_s`.
    announce_grace_s: float = Field(default=4.0, ge=0, le=60.0)
    concurrency: int = Field(default=1, ge=1)
    # Progress is pushed to the chat at least this often while a job runs.
    progress_interval_s: float = Field(default=4.0, gt=0, le=10.0)
    # A `running` job whose heartbeat is older than this belongs to a dead process.
    stale_after_s: float = Field(default=30.0, gt=0)
    # Restarts a job may survive before it is failed with a message.
    max_attempts: int = Field(default=3, ge=1)
    poll_interval_s: float = Field(default=2.0, gt=0)
    # Waits for the local model when its queue is full, instead of failing the step.
    busy_retries: int = Field(default=20, ge=0)
