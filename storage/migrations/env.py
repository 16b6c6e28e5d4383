"""Alembic environment: cxbot always runs migrations programmatically with a connection."""

from __future__ import annotations

from alembic import context

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `cxbot db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things in place
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
