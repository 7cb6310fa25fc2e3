"""Typed settings and records of the review queue; no I/O here.

`ReviewSettings.share` is the sampled share of answers per capability. Regulated turns go only to
reviewers in `regulated_groups` (the groups the privacy policy names for regulated content); other
turns to admins and members of `reviewer_groups`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Grade = Literal["correct", "partly", "wrong"]
GRADES: tuple[Grade, ...] = ("correct", "partly", "wrong")
Tier = Literal["public", "internal", "regulated"]


class ReviewSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    share: dict[str, float] = Field(
        default_factory=lambda: {"chat": 0.05, "document_qa": 0.1, "summaries": 0.1}
    )
    reviewer_groups: tuple[str, ...] = ("reviewers",)
    regulated_groups: tuple[str, ...] = ("compliance",)

    def share_for(self, capability: str) -> float:
        return min(1.0, max(0.0, self.share.get(capability, 0.0)))


class ReviewCandidate(BaseModel):
    """One answered turn, offered to the queue by the turn path."""

    model_config = ConfigDict(frozen=True)

    turn_id: str = Field(min_length=1, max_length=64)
    capability: str = Field(max_length=32)
    tier: Tier
    user_id: str = Field(max_length=150)
    thread_id: str | None = Field(default=None, max_length=64)
    experiment_id: str | None = Field(default=None, max_length=40)
    variant: str | None = Field(default=None, max_length=40)
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: int
    turn_id: str
    capability: str
    tier: Tier
    user_id: str
    thread_id: str | None
    experiment_id: str | None
    variant: str | None
    question: str
    answer: str
    created_at: datetime
    grade: Grade | None = None
    note: str | None = None
    graded_by: str | None = None
