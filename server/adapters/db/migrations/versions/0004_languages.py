"""The language each analysis was analysed as, and the language a batch states.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing analyses were all analysed as English without detection: "en", confidence 0.
    op.add_column(
        "analyses",
        sa.Column("language", sa.String(35), nullable=False, server_default="en"),
    )
    op.add_column(
        "analyses",
        sa.Column("language_confidence", sa.Float(), nullable=False, server_default="0"),
    )
    op.add_column("batches", sa.Column("language_code", sa.String(35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("language_code")
    with op.batch_alter_table("analyses") as batch:
        batch.drop_column("language_confidence")
        batch.drop_column("language")
