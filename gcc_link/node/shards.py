"""Which shard of a counter row this transaction writes (see ``models.SHARDS``).

PostgreSQL: the transaction id modulo ``SHARDS``. Transactions running at
the same time have neighbouring ids, so they update different rows instead
of queueing on one; and one shard for the whole transaction keeps the order
in which it locks counter rows the same as with unsharded counters, so
sharding adds no deadlock. (A backend pid would not do: ten pooled
connections often share a pid residue.) SQLite, whose writers are
serialised anyway: always shard 0. Must match the triggers of migration
``s12_scaleout``.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from .models import SHARDS

__all__ = ["ShardedStatement", "shard_sql", "shard_sql_postgres"]


def shard_sql(session: Session) -> str:
    """A SQL expression for this transaction's shard, to place in a counter upsert."""
    return "0" if session.get_bind().dialect.name == "sqlite" else shard_sql_postgres()


def shard_sql_postgres() -> str:
    return f"(txid_current() % {SHARDS})"


class ShardedStatement:
    """A counter upsert whose ``{shard}`` placeholder is filled per dialect once, picked per session."""

    def __init__(self, template: str) -> None:
        self._by_shard = {shard: text(template.format(shard=shard)) for shard in ("0", shard_sql_postgres())}

    def __call__(self, session: Session) -> TextClause:
        return self._by_shard[shard_sql(session)]
