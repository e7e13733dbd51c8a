"""Each message's envelope and report in a table of their own (``message_bodies``), apart from the row whose status
changes at every step of a delivery.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

On SQLite a row is rewritten whole when its size changes, and a status change changes it: with the 18 KB envelope
in the ``messages`` row, each change rewrote the envelope's overflow pages (about 20 pages written per change, 85 KiB
for a claim). The bytes and report are now written once, when the message is recorded. The rows of earlier revisions
are copied; the columns are dropped with ``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35 and later, PostgreSQL), so
``messages``, which other tables reference, is never copied. Downgrading puts them back.
Frozen once released: spell the schema out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_bodies",
        sa.Column("message_pk", ID, autoincrement=False, nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], name=op.f("fk_message_bodies_message_pk_messages")),
        sa.PrimaryKeyConstraint("message_pk", name=op.f("pk_message_bodies")),
    )
    op.execute("INSERT INTO message_bodies (message_pk, envelope, report) SELECT id, envelope, report FROM messages")
    op.execute("ALTER TABLE messages DROP COLUMN envelope")
    op.execute("ALTER TABLE messages DROP COLUMN report")


def downgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a default; PostgreSQL adds it nullable, fills it, then requires it.
    op.execute("ALTER TABLE messages ADD COLUMN envelope BLOB NOT NULL DEFAULT X''" if sqlite
               else "ALTER TABLE messages ADD COLUMN envelope BYTEA")
    op.execute("ALTER TABLE messages ADD COLUMN report TEXT NOT NULL DEFAULT ''" if sqlite
               else "ALTER TABLE messages ADD COLUMN report TEXT")
    for column in ("envelope", "report"):
        op.execute(f"UPDATE messages SET {column} = (SELECT b.{column} FROM message_bodies b "  # noqa: S608 - constants
                   "WHERE b.message_pk = messages.id)")
    if not sqlite:
        op.execute("ALTER TABLE messages ALTER COLUMN envelope SET NOT NULL")
        op.execute("ALTER TABLE messages ALTER COLUMN report SET NOT NULL")
    op.drop_table("message_bodies")
