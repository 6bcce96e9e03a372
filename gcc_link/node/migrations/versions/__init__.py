"""Alembic revisions of the node store."""
