"""The network's history as the collector recorded it: availability per hour, traffic per day, the 24-hour matrix.

Everything here is derived from ``node_samples`` (what verified signed
statuses said, or why a poll failed), never from typed data. Traffic comes
from the ``traffic`` block newer nodes put in their signed status:
``{"window_hours": 24, "peers": {"SA": {"sent": n, "received": n,
"calls_sent": n, "calls_received": n, "failed": {"code": n}}}}``; a node
that does not report it simply has no traffic figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import NodeSample

__all__ = ["Availability", "NetworkHistory", "history", "traffic_of"]


@dataclass(frozen=True)
class Availability:
    """One hour of one node: how many polls, how many verified."""

    hour: datetime
    polls: int
    online: int

    @property
    def ratio(self) -> float | None:
        return self.online / self.polls if self.polls else None


@dataclass
class NetworkHistory:
    """Availability by hour, traffic by day and the latest 24-hour matrix, per state."""

    hours: list[datetime]
    availability: dict[str, list[Availability]] = field(default_factory=dict)
    daily_sent: dict[str, list[tuple[date, int]]] = field(default_factory=dict)
    matrix: dict[str, dict[str, int]] = field(default_factory=dict)  # sender state -> recipient state -> messages

    def as_dict(self) -> dict[str, Any]:
        return {
            "hours": [h.isoformat() for h in self.hours],
            "availability": {
                cc: [{"hour": a.hour.isoformat(), "polls": a.polls, "online": a.online} for a in rows]
                for cc, rows in self.availability.items()
            },
            "daily_sent": {
                cc: [{"day": d.isoformat(), "messages": n} for d, n in rows] for cc, rows in self.daily_sent.items()
            },
            "matrix_24h": self.matrix,
        }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def traffic_of(extra: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """The per-peer counters of a status's ``traffic`` block; anything malformed is dropped."""
    peers = (
        ((extra or {}).get("traffic") or {}).get("peers") if isinstance((extra or {}).get("traffic"), dict) else None
    )
    if not isinstance(peers, dict):
        return {}
    out: dict[str, dict[str, int]] = {}
    for peer, counts in peers.items():
        if isinstance(peer, str) and len(peer) == 2 and isinstance(counts, dict):
            out[peer] = {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool) and v >= 0}
    return out


def history(session: Session, states: list[str], now: datetime, hours: int = 24, days: int = 7) -> NetworkHistory:
    """The last ``hours`` of availability and ``days`` of daily traffic of ``states``, ending at ``now``."""
    now = _aware(now)
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    hour_list = [start + timedelta(hours=i) for i in range(hours)]
    since = min(start, now - timedelta(days=days))
    rows = session.scalars(
        select(NodeSample).where(NodeSample.polled_at >= since.replace(tzinfo=None)).order_by(NodeSample.polled_at)
    ).all()
    counts: dict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0])
    last_per_day: dict[tuple[str, date], int] = {}
    latest_traffic: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        at = _aware(row.polled_at)
        bucket = at.replace(minute=0, second=0, microsecond=0)
        if bucket >= start:
            counts[(row.cc, bucket)][0] += 1
            counts[(row.cc, bucket)][1] += 1 if row.online else 0
        if row.online:
            traffic = traffic_of(row.extra)
            if traffic:
                # the last 24-hour figure of each day stands for that day
                last_per_day[(row.cc, at.date())] = sum(c.get("sent", 0) for c in traffic.values())
                latest_traffic[row.cc] = traffic
    result = NetworkHistory(hour_list)
    for cc in states:
        result.availability[cc] = [Availability(h, *counts.get((cc, h), [0, 0])) for h in hour_list]
        day_list = [(now - timedelta(days=days - 1 - i)).date() for i in range(days)]
        result.daily_sent[cc] = [(d, last_per_day.get((cc, d), 0)) for d in day_list]
        traffic = latest_traffic.get(cc, {})
        result.matrix[cc] = {peer: traffic.get(peer, {}).get("sent", 0) for peer in states if peer != cc}
    return result
