"""Per-capability facts of experiment turns (assistant/governance/tables.py: ExperimentTurnRow):
model calls per turn (tool rounds, summary steps), and a summary's map steps and how many of them
fell back to quoted sentences. Nullable: older rows and turns they do not apply to have none.

Revision ID: 0007_experiment_capability_facts
Revises: 0006_review_queue
Create Date: 2026-11-29 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_experiment_capability_facts"
down_revision: str | None = "0006_review_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("model_calls", "map_steps", "quoted_steps")


def upgrade() -> None:
    with op.batch_alter_table("experiment_turns", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiment_turns", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
