"""Batch work claimed in chunks: one row and one lease per chunk, not per item.

A batch hands out its items in order from a cursor (``claimed_count``); each claim
records the range it took in ``batch_chunks`` with its lease, and a chunk whose lease
ran out is claimed again for those of its items that have no result yet. Items no
longer carry a state: they are written once, when the batch is created.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.adapters.db.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_OPEN_BATCHES = "status IN (1, 2)"
_OPEN_CHUNKS = "state < 2"


def upgrade() -> None:
    # Unfinished batches start again from their first item: claims skip the items that
    # already have a result, so nothing is analysed twice.
    op.add_column(
        "batches",
        sa.Column("claimed_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_batches_open",
        "batches",
        ["create_time", "id"],
        postgresql_where=sa.text(_OPEN_BATCHES),
        sqlite_where=sa.text(_OPEN_BATCHES),
    )
    op.create_table(
        "batch_chunks",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("first_item", sa.Integer(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name="fk_batch_chunks_batch_id_batches",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "first_item", name="pk_batch_chunks"),
    )
    op.create_index(
        "ix_batch_chunks_open",
        "batch_chunks",
        ["state", "lease_expires"],
        postgresql_where=sa.text(_OPEN_CHUNKS),
        sqlite_where=sa.text(_OPEN_CHUNKS),
    )
    op.drop_index("ix_batch_items_pending", table_name="batch_items")
    op.drop_index("ix_batch_items_state_lease_expires", table_name="batch_items")
    with op.batch_alter_table("batch_items") as items:
        items.drop_column("attempts")
        items.drop_column("lease_expires")
        items.drop_column("lease_owner")
        items.drop_column("state")


def downgrade() -> None:
    with op.batch_alter_table("batch_items") as items:
        items.add_column(sa.Column("state", sa.SmallInteger(), nullable=False, server_default="0"))
        items.add_column(sa.Column("lease_owner", sa.String(128), nullable=True))
        items.add_column(sa.Column("lease_expires", UTCDateTime(), nullable=True))
        items.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    # Items with a result are done; those of cancelled batches without one never will be.
    op.execute(
        "UPDATE batch_items SET state = 2 WHERE EXISTS (SELECT 1 FROM analyses a "
        "WHERE a.batch_id = batch_items.batch_id AND a.batch_item = batch_items.item)"
    )
    op.execute(
        "UPDATE batch_items SET state = 3 WHERE state = 0 AND batch_id IN "
        "(SELECT id FROM batches WHERE status = 4)"
    )
    op.create_index("ix_batch_items_state_lease_expires", "batch_items", ["state", "lease_expires"])
    op.create_index(
        "ix_batch_items_pending",
        "batch_items",
        ["batch_id", "item"],
        postgresql_where=sa.text("state = 0"),
        sqlite_where=sa.text("state = 0"),
    )
    op.drop_index("ix_batch_chunks_open", table_name="batch_chunks")
    op.drop_table("batch_chunks")
    op.drop_index("ix_batches_open", table_name="batches")
    with op.batch_alter_table("batches") as batches:
        batches.drop_column("claimed_count")
