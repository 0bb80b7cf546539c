"""Results stored as json rather than jsonb on PostgreSQL.

Nothing queries inside a result, and jsonb parses every result it stores into a form of
its own: json keeps the text as given, which costs PostgreSQL less than half as much
CPU to write and to read back. On SQLite the column is unchanged.

On PostgreSQL the upgrade rewrites the analyses table, holding an exclusive lock on it
while it does. The previous release writes jsonb, which PostgreSQL casts to json as it
stores it, so it keeps working against the new schema.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "analyses",
            "result",
            type_=sa.JSON(),
            existing_type=JSONB(),
            existing_nullable=True,
            postgresql_using="result::json",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "analyses",
            "result",
            type_=JSONB(),
            existing_type=sa.JSON(),
            existing_nullable=True,
            postgresql_using="result::jsonb",
        )
