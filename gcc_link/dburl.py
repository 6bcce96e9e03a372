"""Database URLs as operators write them, made into the URLs SQLAlchemy needs (node and portal alike)."""

from __future__ import annotations

__all__ = ["is_sqlite", "sqlalchemy_url"]


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here (the only PostgreSQL driver installed)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    """Whether ``url`` names an SQLite database (one writer: one delivery worker, no SKIP LOCKED)."""
    return url.startswith("sqlite")
