"""Metric counters kept by triggers (no table scan per scrape); index for the oldest queued message per peer.

Revision ID: n10_counters
Revises: t11_traffic

The triggers keep ``metric_counters`` in step with ``outbox``, ``inbox``
and ``rejections`` inside the writing transaction (SQLite triggers; on
PostgreSQL plpgsql trigger functions with ``INSERT … ON CONFLICT``). The
existing rows are counted once here.
"""

import sqlalchemy as sa
from alembic import op

revision = "n10_counters"
down_revision = "t11_traffic"
branch_labels = None
depends_on = None

#: Must match ``metrics.LATENCY_BUCKETS``.
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "300.0", "3600.0")
_UPSERT = (
    "INSERT INTO metric_counters (name, l1, l2, value) {src} "
    "ON CONFLICT (name, l1, l2) DO UPDATE SET value = metric_counters.value + excluded.value"
)


def _up(name: str, l1: str, l2: str, value: str, where: str = "") -> str:
    src = f"SELECT '{name}', {l1}, {l2}, {value}" + (f" WHERE {where}" if where else " WHERE 1 = 1")
    return _UPSERT.format(src=src) + ";"


def _delivered_statements() -> list[str]:
    latency = "(NEW.delivered_at - NEW.created_at)"
    cond = "NEW.status = 'delivered' AND OLD.status <> 'delivered'"
    bounds = " UNION ALL ".join(f"SELECT '{b}' AS label, {b} AS bound" for b in BUCKETS)
    out = [
        _UPSERT.format(
            src=f"SELECT 'latency_bucket', label, '', 1 FROM ({bounds}) AS buckets WHERE {cond} AND {latency} <= bound"
        )
        + ";"
    ]
    out.append(_up("latency_count", "''", "''", "1", cond))
    out.append(_up("latency_sum", "''", "''", latency, cond))
    return out


def _outbox_update_statements() -> list[str]:
    return [
        "UPDATE metric_counters SET value = value - 1 WHERE name = 'sent' AND l1 = OLD.peer AND l2 = OLD.status "
        "AND OLD.status <> NEW.status;",
        _up("sent", "NEW.peer", "NEW.status", "1", "OLD.status <> NEW.status"),
        # only increases count: a requeue resets attempts to 0, the attempts made before stay counted
        _up("attempts", "NEW.peer", "''", "NEW.attempts - OLD.attempts", "NEW.attempts > OLD.attempts"),
        *_delivered_statements(),
    ]


def _outbox_insert_statements() -> list[str]:
    return [_up("sent", "NEW.peer", "NEW.status", "1"), _up("attempts", "NEW.peer", "''", "NEW.attempts")]


_INBOX = [_up("received", "''", "''", "1")]
_REJECTION = [_up("rejected", "NEW.code", "''", "1")]


def upgrade() -> None:
    op.create_table(
        "metric_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("l1", sa.String(length=40), nullable=False),
        sa.Column("l2", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", "l1", "l2"),
    )
    op.create_index("ix_outbox_queue_age", "outbox", ["status", "peer", "created_at"], unique=False)
    # count what is there already, once
    op.execute(
        "INSERT INTO metric_counters (name, l1, l2, value) "
        "SELECT 'sent', peer, status, count(*) FROM outbox GROUP BY peer, status"
    )
    op.execute(
        "INSERT INTO metric_counters (name, l1, l2, value) "
        "SELECT 'attempts', peer, '', sum(attempts) FROM outbox GROUP BY peer"
    )
    op.execute("INSERT INTO metric_counters (name, l1, l2, value) SELECT 'received', '', '', count(*) FROM inbox")
    op.execute(
        "INSERT INTO metric_counters (name, l1, l2, value) "
        "SELECT 'rejected', code, '', count(*) FROM rejections GROUP BY code"
    )
    latency = "(delivered_at - created_at)"
    for b in BUCKETS:
        op.execute(
            f"INSERT INTO metric_counters (name, l1, l2, value) SELECT 'latency_bucket', '{b}', '', "
            f"count(*) FROM outbox WHERE status = 'delivered' AND {latency} <= {b}"
        )
    op.execute(
        "INSERT INTO metric_counters (name, l1, l2, value) SELECT 'latency_count', '', '', count(*) "
        "FROM outbox WHERE status = 'delivered'"
    )
    op.execute(
        f"INSERT INTO metric_counters (name, l1, l2, value) SELECT 'latency_sum', '', '', "
        f"coalesce(sum({latency}), 0) FROM outbox WHERE status = 'delivered'"
    )

    triggers = {
        ("outbox", "INSERT"): _outbox_insert_statements(),
        ("outbox", "UPDATE"): _outbox_update_statements(),
        ("inbox", "INSERT"): _INBOX,
        ("rejections", "INSERT"): _REJECTION,
    }
    dialect = op.get_bind().dialect.name
    for (table, event), statements in triggers.items():
        name = f"gcc_metrics_{table}_{event.lower()}"
        if dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN\n" + "\n".join(statements) + "\nEND"
            )
        else:
            body = "\n".join(statements)
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\nRETURN NULL;\nEND\n$$"
            )
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, event in (("outbox", "insert"), ("outbox", "update"), ("inbox", "insert"), ("rejections", "insert")):
        name = f"gcc_metrics_{table}_{event}"
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if dialect == "sqlite" else f" ON {table}"))
        if dialect != "sqlite":
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index("ix_outbox_queue_age", table_name="outbox")
    op.drop_table("metric_counters")
