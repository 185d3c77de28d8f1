"""Console roles, login throttling and the append-only audit log.

`reviewers.role` (every existing account
becomes a reviewer; `backoffice reviewer role NAME admin` makes an administrator), the
`login_throttle` table shared by every back-office process, and the append-only `audit_log`.
On SQLite two triggers refuse UPDATE and DELETE on `audit_log`; on PostgreSQL the database
role the back office connects with is given only INSERT and SELECT on it (backoffice/README.md).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VERBS = ("UPDATE", "DELETE")


def upgrade() -> None:
    with op.batch_alter_table("reviewers") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False,
                                   server_default="reviewer"))
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=True),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_case_number", "audit_log", ["case_number"])
    if op.get_bind().dialect.name == "sqlite":
        for verb in VERBS:
            op.execute(f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} "
                       f"BEFORE {verb} ON audit_log BEGIN "
                       "SELECT RAISE(ABORT, 'audit_log is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in VERBS:
            op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{verb.lower()}")
    op.drop_table("audit_log")
    op.drop_table("login_throttle")
    with op.batch_alter_table("reviewers") as batch:
        batch.drop_column("role")
