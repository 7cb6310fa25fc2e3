"""A/B experiments and their per-turn facts (assistant/governance/tables.py: ExperimentRow,
ExperimentTurnRow; used by assistant/experiments).

Revision ID: 0005_experiments
Revises: 0004_api_keys
Create Date: 2026-11-29 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_experiments"
down_revision: str | None = "0004_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", _str(length=40), nullable=False),
        sa.Column("capability", _str(length=32), nullable=False),
        sa.Column("description", _str(length=500), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=True),
        sa.Column("status", _str(length=16), nullable=False),
        sa.Column("created_by", _str(length=150), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("stopped_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("stopped_by", _str(length=150), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_experiments_capability"), ["capability"], unique=False)
    op.create_table(
        "experiment_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", _str(length=40), nullable=False),
        sa.Column("variant", _str(length=40), nullable=False),
        sa.Column("user_id", _str(length=150), nullable=False),
        sa.Column("thread_id", _str(length=64), nullable=False),
        sa.Column("replay", sa.Boolean(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("outcome", _str(length=16), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("corrects_previous", sa.Boolean(), nullable=False),
        sa.Column("unsupported_sentences", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("experiment_turns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_experiment_turns_experiment_id"), ["experiment_id"], unique=False
        )
        batch_op.create_index("ix_experiment_turns_thread_started", ["thread_id", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("experiment_turns", schema=None) as batch_op:
        batch_op.drop_index("ix_experiment_turns_thread_started")
        batch_op.drop_index(batch_op.f("ix_experiment_turns_experiment_id"))
    op.drop_table("experiment_turns")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiments_capability"))
    op.drop_table("experiments")
