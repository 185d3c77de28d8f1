"""Fleet alarms: the heartbeat_samples table.

The outbox depth of each terminal's recent heartbeats (the short history the "outbox
growing" alarm reads).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeat_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_heartbeat_samples_terminal_id", "heartbeat_samples", ["terminal_id"])


def downgrade() -> None:
    op.drop_table("heartbeat_samples")
