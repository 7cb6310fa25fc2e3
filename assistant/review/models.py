"""Typed settings and records of the review queue; no I/O here.

`ReviewSettings.share` is the sampled share of answers per capability. Regulated turns go only to
reviewers in the groups the privacy policy names (`[review] regulated_reviewer_groups` in the
policy file); `ReviewSettings.regulated_groups`, when set, can only narrow that list. Other turns
go to admins and members of `reviewer_groups`. `ReviewAccess` is the resolved pair, computed from
both for each request, so a policy edit takes effect without a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    # None: exactly the policy's groups. A list: only those of them the policy also names.
    regulated_groups: tuple[str, ...] | None = None

    def share_for(self, capability: str) -> float:
        return min(1.0, max(0.0, self.share.get(capability, 0.0)))

    def access(self, policy_groups: Iterable[str]) -> ReviewAccess:
        """Who reviews what, given the groups the policy in force names for regulated answers."""
        regulated = frozenset(policy_groups)
        if self.regulated_groups is not None:
            regulated &= frozenset(self.regulated_groups)
        return ReviewAccess(reviewer_groups=frozenset(self.reviewer_groups), regulated_groups=regulated)


@dataclass(frozen=True, slots=True)
class ReviewAccess:
    """The resolved review groups: who may review, and who may read regulated answers."""

    reviewer_groups: frozenset[str]
    regulated_groups: frozenset[str]


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
