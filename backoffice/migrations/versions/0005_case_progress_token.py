"""The receipt's progress token: cases.progress_token_hash.

The SHA-256 (hex) of the receipt's progress token. Cases received before tokens keep NULL:
the public progress page shows nothing of them.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("progress_token_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("progress_token_hash")
