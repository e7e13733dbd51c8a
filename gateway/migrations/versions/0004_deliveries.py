"""One delivery per receiver: a message may have several receivers (a transit declaration goes to every country on
its route), each delivered, retried, dead-lettered and acknowledged on its own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

The delivery state moves from ``messages`` to the new ``deliveries`` table (one row for each accepted message's
receiver; the rows of this revision's messages are made from their columns), and status changes, attempts and
receipts name the delivery they are of. ``messages.status`` stays, derived from its deliveries'. The columns are
dropped with ``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35 and later, PostgreSQL), so ``messages``, which other tables
reference, is never copied. Downgrading keeps the first receiver's delivery of each message.
Frozen once released: spell the schema out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
STATUSES = ("RECEIVED", "ACCEPTED", "REJECTED", "DELIVERING", "WAITING_FOR_RETRY", "DELIVERED", "ACKNOWLEDGED",
            "RECEIVER_REJECTED", "FAILED")
#: The delivery columns that move from messages to deliveries.
MOVED = ("inbox_url", "cycle_started_at", "next_attempt_at", "attempts", "lease_owner", "lease_expires_at",
         "last_error_code", "last_error")


def _children() -> dict[str, sa.Table]:
    """The tables that get ``delivery_pk``, as revision 0003 left them: SQLite alters a table by copying it, and
    spelling them out (rather than reflecting them) lets ``ptx gateway migrate --sql`` print the copy too."""
    meta = sa.MetaData()

    def table(name: str, *columns: sa.Column[object]) -> sa.Table:
        return sa.Table(
            name, meta,
            sa.Column("id", ID, primary_key=True, autoincrement=True),
            sa.Column("message_pk", ID, sa.ForeignKey("messages.id", name=f"fk_{name}_message_pk_messages"),
                      nullable=False),
            *columns,
            sa.Index(f"ix_{name}_message_pk", "message_pk"),
        )

    sa.Table("messages", meta, sa.Column("id", ID, primary_key=True))
    return {
        "status_history": table(
            "status_history",
            sa.Column("status", sa.String(length=32), nullable=False),
            sa.Column("at", TIME, nullable=False),
            sa.Column("detail", sa.Text(), nullable=False),
        ),
        "delivery_attempts": table(
            "delivery_attempts",
            sa.Column("number", sa.Integer(), nullable=False),
            sa.Column("worker", sa.String(length=255), nullable=False),
            sa.Column("started_at", TIME, nullable=False),
            sa.Column("finished_at", TIME, nullable=False),
            sa.Column("outcome", sa.String(length=32), nullable=False),
            sa.Column("http_status", sa.Integer(), nullable=True),
            sa.Column("code", sa.String(length=64), nullable=True),
            sa.Column("message", sa.Text(), nullable=False),
            sa.Column("duration_ms", sa.Float(), nullable=True),
            sa.Column("receiver_code", sa.String(length=64), nullable=True),
        ),
        "receipts": table(
            "receipts",
            sa.Column("received_at", TIME, nullable=False),
            sa.Column("body", sa.LargeBinary(), nullable=False),
            sa.Column("verified", sa.Boolean(), nullable=False),
            sa.Column("verdict", sa.String(length=16), nullable=True),
            sa.Column("code", sa.String(length=64), nullable=True),
            sa.Column("reason", sa.Text(), nullable=False),
        ),
    }


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("message_pk", ID, nullable=False),
        sa.Column("receiver", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("inbox_url", sa.Text(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("cycle_started_at", TIME, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", TIME, nullable=True),
        sa.Column("last_error_code", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(_one_of("status", STATUSES), name=op.f("ck_deliveries_status")),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], name=op.f("fk_deliveries_message_pk_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("message_pk", "receiver", name=op.f("uq_deliveries_message_pk_receiver")),
    )
    op.create_index(op.f("ix_deliveries_message_pk"), "deliveries", ["message_pk"])
    op.create_index(op.f("ix_deliveries_status_next_attempt_at"), "deliveries", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_deliveries_receiver"), "deliveries", ["receiver"])
    op.execute(
        "INSERT INTO deliveries (message_pk, receiver, position, status, inbox_url, updated_at, cycle_started_at, "
        "next_attempt_at, attempts, lease_owner, lease_expires_at, last_error_code, last_error) "
        "SELECT id, receiver, 0, status, COALESCE(inbox_url, 'urn:ptx:no-inbox-configured:' || receiver), "
        "updated_at, cycle_started_at, next_attempt_at, attempts, lease_owner, lease_expires_at, last_error_code, "
        "last_error FROM messages WHERE verdict = 'ACCEPTED' AND status NOT IN ('RECEIVED', 'REJECTED')"
    )
    own = "SELECT d.id FROM deliveries d WHERE d.message_pk = {table}.message_pk"
    children = _children()
    for table, required in (("status_history", False), ("delivery_attempts", True), ("receipts", False)):
        op.add_column(table, sa.Column("delivery_pk", ID, nullable=True))  # plain ALTER on both backends
        where = " WHERE status NOT IN ('RECEIVED', 'ACCEPTED', 'REJECTED')" if table == "status_history" else ""
        op.execute(f"UPDATE {table} SET delivery_pk = ({own.format(table=table)}){where}")  # noqa: S608 - constants
        copy = children[table]
        copy.append_column(sa.Column("delivery_pk", ID, nullable=True))
        with op.batch_alter_table(table, copy_from=copy) as batch:
            if required:
                batch.alter_column("delivery_pk", existing_type=ID, nullable=False)
            batch.create_foreign_key(op.f(f"fk_{table}_delivery_pk_deliveries"), "deliveries", ["delivery_pk"], ["id"])
        op.create_index(op.f(f"ix_{table}_delivery_pk"), table, ["delivery_pk"])
    op.drop_index(op.f("ix_messages_status_next_attempt_at"), table_name="messages")
    op.create_index(op.f("ix_messages_status"), "messages", ["status"])
    for column in MOVED:
        op.execute(f"ALTER TABLE messages DROP COLUMN {column}")


def downgrade() -> None:
    op.execute("ALTER TABLE messages ADD COLUMN inbox_url TEXT")
    op.execute("ALTER TABLE messages ADD COLUMN cycle_started_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00'"
               if op.get_context().dialect.name == "sqlite" else
               "ALTER TABLE messages ADD COLUMN cycle_started_at TIMESTAMP WITH TIME ZONE")
    time_type = "TIMESTAMP" if op.get_context().dialect.name == "sqlite" else "TIMESTAMP WITH TIME ZONE"
    op.execute(f"ALTER TABLE messages ADD COLUMN next_attempt_at {time_type}")
    op.execute("ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE messages ADD COLUMN lease_owner VARCHAR(255)")
    op.execute(f"ALTER TABLE messages ADD COLUMN lease_expires_at {time_type}")
    op.execute("ALTER TABLE messages ADD COLUMN last_error_code VARCHAR(64)")
    op.execute("ALTER TABLE messages ADD COLUMN last_error TEXT")
    first = "SELECT d.{column} FROM deliveries d WHERE d.message_pk = messages.id AND d.position = 0"
    assignments = ", ".join(f"{column} = ({first.format(column=column)})" for column in MOVED if column != "attempts")
    op.execute(f"UPDATE messages SET {assignments}, attempts = COALESCE(({first.format(column='attempts')}), 0) "  # noqa: S608
               "WHERE verdict = 'ACCEPTED'")
    op.execute("UPDATE messages SET cycle_started_at = received_at WHERE cycle_started_at IS NULL "
               "OR verdict <> 'ACCEPTED'")
    if op.get_context().dialect.name != "sqlite":
        op.execute("ALTER TABLE messages ALTER COLUMN cycle_started_at SET NOT NULL")
    op.drop_index(op.f("ix_messages_status"), table_name="messages")
    op.create_index(op.f("ix_messages_status_next_attempt_at"), "messages", ["status", "next_attempt_at"])
    children = _children()
    for table in ("receipts", "delivery_attempts", "status_history"):
        op.drop_index(op.f(f"ix_{table}_delivery_pk"), table_name=table)
        copy = children[table]  # 0003's table and the column to drop: what is copied is 0003's table
        copy.append_column(sa.Column("delivery_pk", ID, nullable=True))
        with op.batch_alter_table(table, copy_from=copy) as batch:
            batch.drop_column("delivery_pk")
    op.drop_index(op.f("ix_deliveries_receiver"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_status_next_attempt_at"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_message_pk"), table_name="deliveries")
    op.drop_table("deliveries")
