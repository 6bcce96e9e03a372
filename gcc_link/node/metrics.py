"""Prometheus metrics, read from the store at scrape time.

The counts come from the database rather than per-process counters, so the
numbers are right however many web and delivery processes a node runs:
messages by peer and status, queue depth, retries, rejections by code, and a
delivery-latency histogram (queued → receipt).
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import case, func, select

from .context import NodeContext
from .models import InboxMessage, OutboxMessage, Rejection

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class StoreCollector:
    """A prometheus collector over one node's store."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[object]:
        with self.ctx.db.read() as s:
            by_status = s.execute(select(OutboxMessage.peer, OutboxMessage.status, func.count(),
                                         func.coalesce(func.sum(OutboxMessage.attempts), 0))
                                  .group_by(OutboxMessage.peer, OutboxMessage.status)).all()
            rejections = s.execute(select(Rejection.code, func.count()).group_by(Rejection.code)).all()
            received = s.execute(select(func.count()).select_from(InboxMessage)).scalar_one()
            latency = OutboxMessage.delivered_at - OutboxMessage.created_at
            cols = [func.sum(case((latency <= b, 1), else_=0)) for b in LATENCY_BUCKETS]
            hist = s.execute(select(func.count(), func.coalesce(func.sum(latency), 0.0), *cols)
                             .where(OutboxMessage.status == "delivered")).one()
        sent = CounterMetricFamily("gcc_link_messages", "Messages sent, by peer state and status",
                                   labels=["peer", "status"])
        retries = CounterMetricFamily("gcc_link_delivery_retries", "Delivery attempts beyond the first", labels=["peer"])
        depth = GaugeMetricFamily("gcc_link_queue_depth", "Messages waiting for delivery")
        per_peer_retries: dict[str, int] = {}
        queued = 0
        for peer, status, count, attempts in by_status:
            sent.add_metric([peer, status], count)
            per_peer_retries[peer] = per_peer_retries.get(peer, 0) + max(0, int(attempts) - int(count))
            if status == "queued":
                queued += count
        for peer, n in sorted(per_peer_retries.items()):
            retries.add_metric([peer], n)
        depth.add_metric([], queued)
        rej = CounterMetricFamily("gcc_link_rejections", "Received messages rejected, by code", labels=["code"])
        for code, count in rejections:
            rej.add_metric([code], count)
        inbox = CounterMetricFamily("gcc_link_received", "Messages accepted into agency inboxes")
        inbox.add_metric([], received)
        count, total, *cum = hist
        buckets = [(str(b), int(c or 0)) for b, c in zip(LATENCY_BUCKETS, cum)] + [("+Inf", int(count))]
        latency_metric = HistogramMetricFamily("gcc_link_delivery_latency_seconds",
                                               "Time from queued to receipt of delivered messages")
        latency_metric.add_metric([], buckets, float(total))
        yield from (sent, retries, depth, rej, inbox, latency_metric)


def render(ctx: NodeContext) -> bytes:
    registry = CollectorRegistry()
    registry.register(StoreCollector(ctx))  # type: ignore[arg-type]
    return generate_latest(registry)
