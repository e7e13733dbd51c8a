"""Initial schema: messages, status history, delivery attempts, receipts, audit log and its head.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Exactly what ``metadata.create_all`` made before migrations existed, so such a database is stamped with this
revision instead of being created again (see ``gateway._migrate``).

Frozen once released: never import the application's tables or types here, spell the schema out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# 64-bit ids; on SQLite an INTEGER PRIMARY KEY (its rowid) so that autoincrement works.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Aware UTC times: timestamptz on PostgreSQL, naive UTC text on SQLite (the store converts).
TIME = sa.DateTime(timezone=True)

STATUSES = ("RECEIVED", "ACCEPTED", "REJECTED", "DELIVERING", "WAITING_FOR_RETRY", "DELIVERED", "ACKNOWLEDGED",
            "RECEIVER_REJECTED", "FAILED")
VERDICTS = ("ACCEPTED", "REJECTED")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", ID, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", ID, autoincrement=False, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_message_id"), "audit_log", ["message_id"])

    op.create_table(
        "messages",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("receiver", sa.String(length=255), nullable=False),
        sa.Column("document_type", sa.String(length=128), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=True),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("inbox_url", sa.Text(), nullable=True),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("cycle_started_at", TIME, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", TIME, nullable=True),
        sa.Column("last_error_code", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(_one_of("status", STATUSES), name=op.f("ck_messages_status")),
        sa.CheckConstraint(_one_of("verdict", VERDICTS), name=op.f("ck_messages_verdict")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_messages_message_id")),
    )
    op.create_index(op.f("ix_messages_status_next_attempt_at"), "messages", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_messages_sender"), "messages", ["sender"])
    op.create_index(op.f("ix_messages_receiver"), "messages", ["receiver"])
    op.create_index(op.f("ix_messages_received_at"), "messages", ["received_at"])

    op.create_table(
        "status_history",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("message_pk", ID, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], name=op.f("fk_status_history_message_pk_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_history")),
    )
    op.create_index(op.f("ix_status_history_message_pk"), "status_history", ["message_pk"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("message_pk", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=255), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"],
                                name=op.f("fk_delivery_attempts_message_pk_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(op.f("ix_delivery_attempts_message_pk"), "delivery_attempts", ["message_pk"])

    op.create_table(
        "receipts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("message_pk", ID, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], name=op.f("fk_receipts_message_pk_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
    )
    op.create_index(op.f("ix_receipts_message_pk"), "receipts", ["message_pk"])


def downgrade() -> None:
    for table in ("receipts", "delivery_attempts", "status_history", "messages", "audit_log", "audit_head"):
        op.drop_table(table)
