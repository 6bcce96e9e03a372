"""Which shard of a counter row this session writes (see ``models.SHARDS``).

PostgreSQL: the backend pid modulo ``SHARDS``, so concurrent transactions
(different connections) mostly update different rows instead of queueing
on one; SQLite, whose writers are serialised anyway: always shard 0.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from .models import SHARDS

__all__ = ["shard_sql", "shard_sql_postgres"]


def shard_sql(session: Session) -> str:
    """A SQL expression for this session's shard, to place in a counter upsert."""
    return "0" if session.get_bind().dialect.name == "sqlite" else shard_sql_postgres()


def shard_sql_postgres() -> str:
    return f"(pg_backend_pid() % {SHARDS})"
