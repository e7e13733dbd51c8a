"""The ePhyto hub interface's mailbox: certificates delivered through /hub/DeliveryService.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Until this revision the hub interface made the table itself (``create_all``, never released): such a table is
kept with its rows and given the column it lacks (``forwarded_as``). Frozen once released: spell the schema out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "ephyto_envelopes"
# Aware UTC times: timestamptz on PostgreSQL, naive UTC text on SQLite (the store converts).
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    inspector = None if op.get_context().as_sql else sa.inspect(op.get_bind())  # --sql: nothing to inspect
    if inspector is not None and TABLE in inspector.get_table_names():  # made by create_all before this revision
        if "forwarded_as" not in {column["name"] for column in inspector.get_columns(TABLE)}:
            with op.batch_alter_table(TABLE) as batch:
                batch.add_column(sa.Column("forwarded_as", sa.String(length=255), nullable=True))
        return
    op.create_table(
        TABLE,
        sa.Column("hub_number", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("receiver", sa.String(length=16), nullable=False),
        sa.Column("certificate_type", sa.Integer(), nullable=False),
        sa.Column("certificate_status", sa.Integer(), nullable=False),
        sa.Column("nppo_number", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("tracking", sa.String(length=32), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("pulled_at", TIME, nullable=True),
        sa.Column("forwarded_as", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("hub_number", name=op.f("pk_ephyto_envelopes")),
        sa.UniqueConstraint("message_id", name=op.f("uq_ephyto_envelopes_message_id")),
    )
    op.create_index(op.f("ix_ephyto_envelopes_receiver"), TABLE, ["receiver"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ephyto_envelopes_receiver"), table_name=TABLE)
    op.drop_table(TABLE)
