"""The `tools` section of the one settings tree: whether chat turns may call tools, and the bounds
of one turn's tool loop. Which tools exist is the `tool_catalog` section's business."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ToolSettings(BaseModel):
    # Tools are offered only when this is on *and* the answering model supports them
    # (`models.local.supports_tools` for the local model; hosted models always do).
    # `CONFIDANTE_TOOLS__ENABLED=false` turns every tool off.
    enabled: bool = True
    max_steps: int = Field(default=5, ge=1, le=50)
    wall_time_s: float = Field(default=90.0, gt=0)
    token_budget: int = Field(default=12_000, ge=1)
    # Retries after a failure, for idempotent tools only.
    retries: int = Field(default=1, ge=0, le=5)
