"""Analyses table with its idempotency and keyset-paging indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from server.adapters.db.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analyses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(256), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("analysis_type", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("result", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("processing_time_ms", sa.Float(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("batch_item", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("payload_hash", sa.String(64), nullable=True),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("process_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_analyses"),
        sa.UniqueConstraint("tenant", "request_id", name="uq_analyses_tenant_request_id"),
        sa.UniqueConstraint("batch_id", "batch_item", name="uq_analyses_batch_id_batch_item"),
    )
    op.create_index(
        "ix_analyses_tenant_create_time_id", "analyses", ["tenant", "create_time", "id"]
    )
    op.create_index(
        "ix_analyses_tenant_update_time_id", "analyses", ["tenant", "update_time", "id"]
    )
    op.create_index(
        "ix_analyses_batch_id_create_time_id", "analyses", ["batch_id", "create_time", "id"]
    )


def downgrade() -> None:
    op.drop_table("analyses")
