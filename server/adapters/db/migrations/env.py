"""Alembic environment: runs on the connection that server.adapters.db.migrate hands in."""

from __future__ import annotations

from alembic import context

from server.adapters.db.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `textlens-server migrate`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
