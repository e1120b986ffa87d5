"""Alembic environment: migrations always run on a connection handed in by catalog.engine."""

from __future__ import annotations

from alembic import context

from storage.catalog.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("evidock migrations run through storage.catalog.engine.migrate()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
