"""Scale-out on PostgreSQL: log entries recorded for a sequencer; counter rows split into shards.

Revision ID: s12_scaleout
Revises: n10_counters

``message_log_pending`` holds entries recorded by a transaction and not yet
chained (see ``logstore``). ``metric_counters`` and ``traffic_hourly`` gain a
``shard`` column in their primary keys: on PostgreSQL each transaction writes
the shard of its transaction id (modulo 64; concurrent transactions have
neighbouring ids, so they land on different rows), so concurrent transactions
no longer queue on one hot counter row; one shard per transaction keeps the
order in which a transaction locks rows the same as before (no new deadlocks).
SQLite writes shard 0 only. The metric triggers
are recreated to write their transaction's shard; a status change now adds -1 to
the old status in that shard (readers sum the shards). Existing counts move
to shard 0.
"""

import sqlalchemy as sa
from alembic import op

revision = "s12_scaleout"
down_revision = "n10_counters"
branch_labels = None
depends_on = None

#: Must match ``metrics.LATENCY_BUCKETS`` (as in n10_counters).
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "300.0", "3600.0")
TRIGGERS = (("outbox", "INSERT"), ("outbox", "UPDATE"), ("inbox", "INSERT"), ("rejections", "INSERT"))


def _shard(dialect: str) -> str:
    return "0" if dialect == "sqlite" else "(txid_current() % 64)"


def _statements(dialect: str) -> dict[tuple[str, str], list[str]]:
    shard = _shard(dialect)

    def up(name: str, l1: str, l2: str, value: str, where: str = "1 = 1", source: str = "") -> str:
        return (
            f"INSERT INTO metric_counters (name, l1, l2, shard, value) SELECT '{name}', {l1}, {l2}, {shard}, {value}"
            f"{source} WHERE {where} "
            "ON CONFLICT (name, l1, l2, shard) DO UPDATE SET value = metric_counters.value + excluded.value;"
        )

    latency = "(NEW.delivered_at - NEW.created_at)"
    delivered = "NEW.status = 'delivered' AND OLD.status <> 'delivered'"
    bounds = " UNION ALL ".join(f"SELECT '{b}' AS label, {b} AS bound" for b in BUCKETS)
    changed = "OLD.status <> NEW.status"
    return {
        ("outbox", "INSERT"): [
            up("sent", "NEW.peer", "NEW.status", "1"),
            up("attempts", "NEW.peer", "''", "NEW.attempts"),
        ],
        ("outbox", "UPDATE"): [
            up("sent", "OLD.peer", "OLD.status", "-1", changed),
            up("sent", "NEW.peer", "NEW.status", "1", changed),
            # only increases count: a requeue resets attempts to 0, the attempts made before stay counted
            up("attempts", "NEW.peer", "''", "NEW.attempts - OLD.attempts", "NEW.attempts > OLD.attempts"),
            up("latency_bucket", "label", "''", "1", f"{delivered} AND {latency} <= bound", f" FROM ({bounds}) AS b"),
            up("latency_count", "''", "''", "1", delivered),
            up("latency_sum", "''", "''", latency, delivered),
        ],
        ("inbox", "INSERT"): [up("received", "''", "''", "1")],
        ("rejections", "INSERT"): [up("rejected", "NEW.code", "''", "1")],
    }


def _drop_triggers(dialect: str) -> None:
    for table, event in TRIGGERS:
        name = f"gcc_metrics_{table}_{event.lower()}"
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if dialect == "sqlite" else f" ON {table}"))
        if dialect != "sqlite":
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")


def _create_triggers(dialect: str, statements: dict[tuple[str, str], list[str]]) -> None:
    for (table, event), body in statements.items():
        name = f"gcc_metrics_{table}_{event.lower()}"
        text = "\n".join(body)
        if dialect == "sqlite":
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN\n{text}\nEND")
        else:
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{text}\nRETURN NULL;\nEND\n$$"
            )
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")


def _rebuild(table: str, keys: list[sa.Column], value: sa.Column, with_shard: bool) -> None:
    """Recreate ``table`` with (or without) ``shard`` in its primary key, keeping the counts (summed)."""
    names = [c.name for c in keys]
    cols = [*keys, *([sa.Column("shard", sa.Integer(), nullable=False)] if with_shard else []), value]
    op.create_table(f"{table}_new", *cols, sa.PrimaryKeyConstraint(*names, *(["shard"] if with_shard else [])))
    listed = ", ".join(names)
    op.execute(
        f"INSERT INTO {table}_new ({listed}, {'shard, ' if with_shard else ''}{value.name}) "
        f"SELECT {listed}, {'0, ' if with_shard else ''}SUM({value.name}) FROM {table} GROUP BY {listed}"
    )
    op.drop_table(table)
    op.rename_table(f"{table}_new", table)


def _counter_tables(with_shard: bool) -> None:
    _rebuild(
        "metric_counters",
        [
            sa.Column("name", sa.String(length=32), nullable=False),
            sa.Column("l1", sa.String(length=40), nullable=False),
            sa.Column("l2", sa.String(length=16), nullable=False),
        ],
        sa.Column("value", sa.Float(), nullable=False),
        with_shard,
    )
    _rebuild(
        "traffic_hourly",
        [
            sa.Column("hour", sa.Integer(), nullable=False),
            sa.Column("peer", sa.String(length=2), nullable=False),
            sa.Column("direction", sa.String(length=16), nullable=False),
            sa.Column("outcome", sa.String(length=40), nullable=False),
        ],
        sa.Column("count", sa.Integer(), nullable=False),
        with_shard,
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "message_log_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=36), nullable=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("item_sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_log_pending_ref", "message_log_pending", ["ref"], unique=False)
    _drop_triggers(dialect)
    _counter_tables(with_shard=True)
    _create_triggers(dialect, _statements(dialect))


def downgrade() -> None:
    """Back to one row per counter (shards summed) and the n10 triggers; pending entries must be chained first."""
    dialect = op.get_bind().dialect.name
    if op.get_bind().execute(sa.text("SELECT count(*) FROM message_log_pending")).scalar():
        raise RuntimeError("chain the pending log entries first (gcc-link log verify does), then downgrade")
    op.drop_index("ix_log_pending_ref", table_name="message_log_pending")
    op.drop_table("message_log_pending")
    _drop_triggers(dialect)
    _counter_tables(with_shard=False)
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("n10_counters", Path(__file__).with_name("n10_metric_counters.py"))
    assert spec is not None and spec.loader is not None
    n10 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(n10)
    statements = {
        ("outbox", "INSERT"): n10._outbox_insert_statements(),
        ("outbox", "UPDATE"): n10._outbox_update_statements(),
        ("inbox", "INSERT"): n10._INBOX,
        ("rejections", "INSERT"): n10._REJECTION,
    }
    _create_triggers(dialect, statements)
