"""Alembic migrations of the node store (a package so installs ship them)."""
