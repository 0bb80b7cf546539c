"""A partial index of pending batch items, so that claims never scan finished ones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_batch_items_pending",
        "batch_items",
        ["batch_id", "item"],
        postgresql_where=sa.text("state = 0"),
        sqlite_where=sa.text("state = 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_batch_items_pending", table_name="batch_items")
