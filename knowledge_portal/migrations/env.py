"""Alembic environment: runs on the connection the portal hands over."""

from __future__ import annotations

from alembic import context

from knowledge_portal.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through knowledge_portal.db.migrate
    raise RuntimeError("run migrations through knowledge_portal.db.migrate(url) (gcc-link portal migrate)")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
