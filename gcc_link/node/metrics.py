"""Prometheus metrics, read from the store at scrape time without scanning the message tables.

The counts come from the database rather than per-process counters, so the
numbers are right however many web and delivery processes a node runs. They
are running totals in ``metric_counters``, kept by database triggers in the
same transaction as every outbox, inbox and rejection write (migration
``n10_counters``): a scrape reads a few dozen rows, whatever the size of the
store, and archiving old rows never lowers a counter. Queue depth per peer
comes from the same totals; the age of the oldest queued message per peer
is one index seek per peer (``ix_outbox_queue_age``).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from . import logstore
from .context import NodeContext
from .models import MetricCounter, OutboxMessage

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class StoreCollector:
    """A prometheus collector over one node's store."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[object]:
        now = self.ctx.time()
        with self.ctx.db.read() as s:
            rows = s.execute(  # the shards of each counter summed (see models.SHARDS)
                select(MetricCounter.name, MetricCounter.l1, MetricCounter.l2, func.sum(MetricCounter.value)).group_by(
                    MetricCounter.name, MetricCounter.l1, MetricCounter.l2
                )
            ).all()
            sent_rows = [(l1, l2, v) for n, l1, l2, v in rows if n == "sent"]
            oldest: dict[str, float] = {}
            for peer in sorted({p for p, status, v in sent_rows if status == "queued" and v > 0}):
                first = s.execute(
                    select(func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status == "queued", OutboxMessage.peer == peer
                    )
                ).scalar()
                if first is not None:
                    oldest[peer] = max(0.0, now - float(first))
            log_pending = logstore.pending_count(s)
        sent = CounterMetricFamily(
            "gcc_link_messages", "Messages sent, by peer state and status", labels=["peer", "status"]
        )
        retries = CounterMetricFamily(
            "gcc_link_delivery_retries", "Delivery attempts beyond the first", labels=["peer"]
        )
        depth = GaugeMetricFamily("gcc_link_queue_depth", "Messages waiting for delivery")
        depth_peer = GaugeMetricFamily(
            "gcc_link_queue_depth_by_peer", "Messages waiting for delivery, by peer", labels=["peer"]
        )
        age = GaugeMetricFamily(
            "gcc_link_oldest_queued_age_seconds",
            "Age of the oldest message waiting for delivery, by peer",
            labels=["peer"],
        )
        per_peer_count: dict[str, float] = {}
        queued: dict[str, float] = {}
        for peer, status, value in sent_rows:
            sent.add_metric([peer, status], value)
            per_peer_count[peer] = per_peer_count.get(peer, 0) + value
            if status == "queued":
                queued[peer] = queued.get(peer, 0) + value
        attempts = {l1: v for n, l1, _l2, v in rows if n == "attempts"}
        for peer in sorted(per_peer_count):
            retries.add_metric([peer], max(0.0, attempts.get(peer, 0) - per_peer_count[peer]))
        depth.add_metric([], sum(queued.values()))
        for peer in sorted(queued):
            depth_peer.add_metric([peer], queued[peer])
            age.add_metric([peer], oldest.get(peer, 0.0))
        rej = CounterMetricFamily("gcc_link_rejections", "Received messages rejected, by code", labels=["code"])
        for n, code, _l2, value in rows:
            if n == "rejected":
                rej.add_metric([code], value)
        inbox = CounterMetricFamily("gcc_link_received", "Messages accepted into agency inboxes")
        inbox.add_metric([], sum(v for n, _a, _b, v in rows if n == "received"))
        bucket_values = {l1: v for n, l1, _l2, v in rows if n == "latency_bucket"}
        count = sum(v for n, _a, _b, v in rows if n == "latency_count")
        total = sum(v for n, _a, _b, v in rows if n == "latency_sum")
        buckets = [(str(b), int(bucket_values.get(str(b), 0))) for b in LATENCY_BUCKETS] + [("+Inf", int(count))]
        latency_metric = HistogramMetricFamily(
            "gcc_link_delivery_latency_seconds", "Time from queued to receipt of delivered messages"
        )
        latency_metric.add_metric([], buckets, float(total))
        pending = GaugeMetricFamily(
            "gcc_link_log_pending_entries",
            "Log entries recorded but not chained yet (PostgreSQL: the sequencer's backlog; always 0 on SQLite)",
        )
        pending.add_metric([], log_pending)
        yield from (sent, retries, depth, depth_peer, age, rej, inbox, latency_metric, pending)


def render(ctx: NodeContext) -> bytes:
    registry = CollectorRegistry()
    registry.register(StoreCollector(ctx))  # type: ignore[arg-type]
    return generate_latest(registry)
