"""The human review queue (assistant/review/table.py: ReviewItemRow; used by assistant/review).

Revision ID: 0006_review_queue
Revises: 0005_experiments
Create Date: 2026-11-29 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_review_queue"
down_revision: str | None = "0005_experiments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("turn_id", _str(length=64), nullable=False),
        sa.Column("capability", _str(length=32), nullable=False),
        sa.Column("tier", _str(length=16), nullable=False),
        sa.Column("user_id", _str(length=150), nullable=False),
        sa.Column("thread_id", _str(length=64), nullable=True),
        sa.Column("experiment_id", _str(length=40), nullable=True),
        sa.Column("variant", _str(length=40), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("grade", _str(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("graded_by", _str(length=150), nullable=True),
        sa.Column("graded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("turn_id"),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_items_tier"), ["tier"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_items_experiment_id"), ["experiment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_items_experiment_id"))
        batch_op.drop_index(batch_op.f("ix_review_items_tier"))
    op.drop_table("review_items")
