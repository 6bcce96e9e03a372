"""``/metrics`` from trigger-kept totals: queue depth and oldest age per peer, counters that survive archiving."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
from datetime import UTC, datetime, timedelta

from tests.node.nodeharness import gcc_link, wait_until


def metric(text: str, name: str, labels: str = "") -> float | None:
    """The value of one sample (``labels`` as written between the braces, e.g. ``peer="SA"``)."""
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
    for line in text.splitlines():
        m = re.match(pattern, line)
        if m:
            return float(m.group(1))
    return None


def test_queue_metrics_and_counters_survive_archiving(make_cluster):
    import requests

    cluster = make_cluster(["KW", "SA"])
    kw, sa_node = cluster.agency("KW/MOI"), cluster.nodes["SA"]
    url = cluster.nodes["KW"].url

    def scrape() -> str:
        return requests.get(url + "/metrics", timeout=10).text

    os.killpg(sa_node.proc.pid, signal.SIGSTOP)
    try:
        ids = [kw.send("SA/MOI", {"n": i}).json()["id"] for i in range(3)]
        wait_until(lambda: metric(scrape(), "gcc_link_queue_depth_by_peer", 'peer="SA"') == 3, 10, what="depth 3")
        text = scrape()
        assert metric(text, "gcc_link_queue_depth") == 3
        wait_until(
            lambda: (metric(scrape(), "gcc_link_oldest_queued_age_seconds", 'peer="SA"') or 0) >= 0.5,
            10,
            what="oldest age grows",
        )
    finally:
        os.killpg(sa_node.proc.pid, signal.SIGCONT)
    wait_until(
        lambda: metric(scrape(), "gcc_link_messages_total", 'peer="SA",status="delivered"') == 3, 30, what="3 delivered"
    )
    text = scrape()
    assert metric(text, "gcc_link_queue_depth") == 0
    assert metric(text, "gcc_link_messages_total", 'peer="SA",status="queued"') == 0
    assert metric(text, "gcc_link_delivery_latency_seconds_count") == 3
    assert metric(text, "gcc_link_delivery_latency_seconds_bucket", 'le="+Inf"') == 3
    assert metric(text, "gcc_link_delivery_retries_total", 'peer="SA"') is not None

    # the totals are not a GROUP BY over the rows: archiving every row leaves them as they were
    db = cluster.fed.data_dir / "nodes" / "KW" / "data" / "node.sqlite"
    with sqlite3.connect(db) as conn:
        last = conn.execute("SELECT max(at) FROM message_log").fetchone()[0]
    at = datetime.strptime(last[:10], "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=2)
    gcc_link(
        "node",
        "archive",
        "--config",
        str(cluster.fed.configs["KW"]),
        "--days",
        "1",
        "--at",
        at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    after = scrape()
    assert metric(after, "gcc_link_messages_total", 'peer="SA",status="delivered"') == 3
    assert metric(after, "gcc_link_delivery_latency_seconds_count") == 3
    sa_text = requests.get(sa_node.url + "/metrics", timeout=10).text
    assert metric(sa_text, "gcc_link_received_total") == 3
    assert ids
