"""Crashes: ``kill -9`` the sender or the receiver with ≥ 500 messages in flight; nothing lost or doubled.

Both nodes run in production mode (gunicorn workers + a delivery process).
"""

from __future__ import annotations

import os
import signal
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.node.nodeharness import Cluster, wait_until

pytestmark = pytest.mark.slow
N = 500


def post_many(agency, recipient: str, n: int, tag: str, threads: int = 8) -> list[str]:
    """Send ``n`` messages concurrently; the ids that got 202 (every one must)."""
    agency.headers  # fetch the token once

    def one(i: int) -> str | None:
        r = agency.send(recipient, {"tag": tag, "n": i})
        return r.json()["id"] if r.status_code == 202 else None

    with ThreadPoolExecutor(threads) as pool:
        ids = list(pool.map(one, range(n)))
    assert all(ids), "every send must be accepted"
    return ids  # type: ignore[return-value]


def inbox_ids(cluster: Cluster, cc: str) -> list[str]:
    db = cluster.fed.data_dir / "nodes" / cc / "data" / "node.sqlite"
    with sqlite3.connect(db, timeout=30) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM inbox")]


def outbox_counts(cluster: Cluster, cc: str) -> dict[str, int]:
    db = cluster.fed.data_dir / "nodes" / cc / "data" / "node.sqlite"
    with sqlite3.connect(db, timeout=30) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())


def assert_exactly_once(cluster: Cluster, ids: list[str], agency) -> None:
    wait_until(lambda: outbox_counts(cluster, "KW").get("delivered", 0) == len(ids), 90, 0.25, what="all delivered")
    received = inbox_ids(cluster, "SA")
    assert sorted(received) == sorted(ids)  # each exactly once, none missing, none extra
    listed = [i["id"] for i in agency.all_inbox()]
    assert sorted(listed) == sorted(ids)


def test_kill9_sender_with_messages_in_flight(make_cluster):
    cluster = make_cluster(["KW", "SA"], mode="production", overrides={"delivery.batch_size": 25})
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    sa_node = cluster.nodes["SA"]
    os.killpg(sa_node.proc.pid, signal.SIGSTOP)  # the receiver hangs: every batch stays in flight
    try:
        ids = post_many(kw, "SA/MOI", N, "sender-crash")
        wait_until(lambda: outbox_counts(cluster, "KW").get("queued", 0) == N, 10, what="all queued")
    finally:
        cluster.nodes["KW"].kill9()
        os.killpg(sa_node.proc.pid, signal.SIGCONT)
    assert len(inbox_ids(cluster, "SA")) < N  # truly in flight when the sender died
    cluster.nodes["KW"].start()
    assert_exactly_once(cluster, ids, sa)


def test_kill9_receiver_with_messages_in_flight(make_cluster):
    cluster = make_cluster(["KW", "SA"], mode="production", overrides={"delivery.batch_size": 20})
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    first = post_many(kw, "SA/MOI", 60, "before")
    wait_until(lambda: len(inbox_ids(cluster, "SA")) > 0, 20, 0.01, what="first arrivals")
    cluster.nodes["SA"].kill9()  # mid-stream: batches may be half received
    rest = post_many(kw, "SA/MOI", N, "during")  # ≥ 500 more queue while the receiver is down
    assert len(inbox_ids(cluster, "SA")) < len(first) + N
    cluster.nodes["SA"].start()
    assert_exactly_once(cluster, first + rest, sa)
