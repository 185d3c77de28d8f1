"""The schema as first released.

What the back office's first commit created: terminals and their enrolment
tokens, request nonces, packets, cases with their events, files and supplement requests, help
requests, rejections, reviewers (no roles yet) and console sessions.

Databases made by that release's `create_all` have these tables and no alembic_version:
backoffice/schema.py recognises them and stamps this revision.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "terminals",
        _text("id", 64), _text("site", 64), _text("public_key", 64), _when("enrolled_at"),
        _when("revoked_at", True), sa.Column("last_heartbeat", sa.JSON(), nullable=True),
        _when("last_heartbeat_at", True),
        sa.PrimaryKeyConstraint("id"))
    op.create_table(
        "enrolment_tokens",
        sa.Column("id", sa.Integer(), nullable=False), _text("token_hash", 64),
        _text("terminal_id", 64), _text("site", 64), _when("created_at"), _when("expires_at"),
        _when("used_at", True),
        sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("token_hash"))
    op.create_table(
        "request_nonces",
        sa.Column("id", sa.Integer(), nullable=False), _text("terminal_id", 64),
        _text("nonce", 128), _when("seen_at"),
        sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("terminal_id", "nonce"))
    op.create_index("ix_request_nonces_seen_at", "request_nonces", ["seen_at"])
    op.create_table(
        "packets",
        sa.Column("id", sa.Integer(), nullable=False), _text("packet_id", 64),
        _text("terminal_id", 64), _text("kind", 32), _text("sha256", 64),
        sa.Column("bytes", sa.Integer(), nullable=False), _when("received_at"),
        _text("case_number", 64, True), sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("manifest_enc", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("packet_id"))
    op.create_index("ix_packets_terminal_id", "packets", ["terminal_id"])
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False), _text("case_number", 64),
        _text("matter_code", 64), _text("matter_name", 200), _text("terminal_id", 64),
        _text("site_id", 64), _text("status", 32), _text("id_hash", 64),
        _text("applicant_masked", 64), sa.Column("manifest_enc", sa.LargeBinary(), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=True), _when("submitted_at"),
        _when("received_at"), _when("updated_at"),
        sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("case_number"))
    for column in ("matter_code", "terminal_id", "status", "id_hash", "received_at"):
        op.create_index(f"ix_cases_{column}", "cases", [column])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _when("at"), _text("actor", 100), _text("action", 40), _text("from_status", 32, True),
        _text("to_status", 32, True), sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]), sa.PrimaryKeyConstraint("id"))
    op.create_table(
        "case_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _text("packet_id", 64), _text("path", 300), _text("sha256", 64),
        sa.Column("bytes", sa.Integer(), nullable=False), _text("media_type", 100),
        _text("storage_key", 200),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]), sa.PrimaryKeyConstraint("id"))
    op.create_table(
        "supplement_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _when("requested_at"), _text("requested_by", 100),
        sa.Column("materials", sa.JSON(), nullable=False), _when("fulfilled_at", True),
        _text("fulfilled_packet_id", 64, True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]), sa.PrimaryKeyConstraint("id"))
    for table in ("case_events", "case_files", "supplement_requests"):
        op.create_index(f"ix_{table}_case_id", table, ["case_id"])
    op.create_table(
        "help_requests",
        sa.Column("id", sa.Integer(), nullable=False), _text("packet_id", 64),
        _text("terminal_id", 64), _text("site_id", 64), _when("at"), _text("reason", 200),
        _text("step", 100), _text("case_number", 64, True), _when("handled_at", True),
        _text("handled_by", 100, True),
        sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("packet_id"))
    op.create_table(
        "rejections",
        sa.Column("id", sa.Integer(), nullable=False), _when("at"), _text("terminal_id", 64),
        _text("endpoint", 100), sa.Column("status_code", sa.Integer(), nullable=False),
        _text("reason_key", 100), _text("packet_id", 64, True),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_rejections_at", "rejections", ["at"])
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer(), nullable=False), _text("name", 64),
        _text("password_hash", 300), _when("created_at"),
        sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("name"))
    op.create_table(
        "console_sessions",
        _text("token_hash", 64), sa.Column("reviewer_id", sa.Integer(), nullable=False),
        _text("csrf_token", 64), _when("created_at"), _when("expires_at"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["reviewers.id"]),
        sa.PrimaryKeyConstraint("token_hash"))


def downgrade() -> None:
    for table in ("console_sessions", "reviewers", "rejections", "help_requests",
                  "supplement_requests", "case_files", "case_events", "cases", "packets",
                  "request_nonces", "enrolment_tokens", "terminals"):
        op.drop_table(table)
