"""The `review_items` table (migration 0006_review_queue). Holds the question and answer as the
user saw them, so it lives in the same local database as the chat history, never elsewhere."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from assistant.governance.tables import utcnow


class ReviewItemRow(SQLModel, table=True):
    __tablename__ = "review_items"

    id: int | None = Field(default=None, primary_key=True)
    turn_id: str = Field(max_length=64, unique=True)
    capability: str = Field(max_length=32)
    tier: str = Field(max_length=16, index=True)
    user_id: str = Field(max_length=150)
    thread_id: str | None = Field(default=None, max_length=64)
    experiment_id: str | None = Field(default=None, max_length=40, index=True)
    variant: str | None = Field(default=None, max_length=40)
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    grade: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, sa_column=Column(Text))
    graded_by: str | None = Field(default=None, max_length=150)
    graded_at: datetime | None = None
