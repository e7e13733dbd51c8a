"""Delivery attempts keep the receiver's own code (``NODE-DUPLICATE-CONFLICT``) next to the gateway's.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

A nullable column: attempts recorded before it have none. Frozen once released: spell the schema out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("receiver_code", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("receiver_code")
