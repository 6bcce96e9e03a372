"""Cross-border traffic per peer state and hour: counted as messages settle, summed for the signed status.

Each count is written in the same transaction as the row it counts (an
upsert on one small row of the transaction's shard, summed when read), so
the figures survive restarts, agree across web and delivery processes, and
the last 24 hours are read from a few dozen rows whatever the size of the
outbox and inbox.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .shards import ShardedStatement

__all__ = ["DIRECTIONS", "WINDOW_HOURS", "last_24h", "record"]

DIRECTIONS = ("sent", "received", "calls_sent", "calls_received")
WINDOW_HOURS = 24

_UPSERT = (
    "INSERT INTO traffic_hourly (hour, peer, direction, outcome, shard, count) "
    "VALUES (:hour, :peer, :direction, :outcome, {shard}, :n) "
    "ON CONFLICT (hour, peer, direction, outcome, shard) DO UPDATE SET count = traffic_hourly.count + excluded.count"
)
_UPSERTS = ShardedStatement(_UPSERT)


def record(session: Session, peer: str, direction: str, outcome: str | None, now: datetime, n: int = 1) -> None:
    """Count ``n`` messages of ``direction`` with ``peer`` (outcome None means ``ok``) in the hour of ``now``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown traffic direction {direction!r}")
    session.execute(
        _UPSERTS(session),
        {
            "hour": int(now.timestamp()) // 3600,
            "peer": peer,
            "direction": direction,
            "outcome": outcome or "ok",
            "n": n,
        },
    )


def last_24h(session: Session, now: datetime) -> dict[str, Any]:
    """``{"window_hours": 24, "peers": {CC: {"sent": n, "received": n, "calls_sent": n, "calls_received": n,
    "failed": {code: n}}}}`` over the 24 hours ending at ``now`` (the current hour included)."""
    since = int(now.timestamp()) // 3600 - (WINDOW_HOURS - 1)
    rows = session.execute(
        text(
            "SELECT peer, direction, outcome, SUM(count) FROM traffic_hourly WHERE hour >= :since "
            "GROUP BY peer, direction, outcome"
        ),
        {"since": since},
    ).all()
    peers: dict[str, dict[str, Any]] = defaultdict(lambda: {**{d: 0 for d in DIRECTIONS}, "failed": {}})
    for peer, direction, outcome, count in rows:
        entry = peers[peer]
        entry[direction] += int(count)
        if outcome != "ok":
            entry["failed"][outcome] = entry["failed"].get(outcome, 0) + int(count)
    return {"window_hours": WINDOW_HOURS, "peers": dict(peers)}
