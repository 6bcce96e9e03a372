"""PostgreSQL: two delivery workers on one database claim with SKIP LOCKED; no double delivery.

The throwaway PostgreSQL cluster comes from ``postgres_url`` in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.node.nodeharness import Cluster, NodeProc, gcc_link, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
N = 300


def test_two_delivery_workers_no_double_delivery(tmp_path, postgres_url):
    import psycopg

    cluster = Cluster(tmp_path / "fed", ["KW", "SA"], overrides={"delivery.batch_size": 10})
    kw_node = cluster.nodes["KW"]
    kw_node.mode = "production"
    kw_node.env = {"GCC_NODE__DATABASE_URL": postgres_url, "GCC_NODE__DELIVERY_WORKERS": "0"}
    workers: list[NodeProc] = []
    # the KW node's store is PostgreSQL: its agency clients are registered there
    created = json.loads(
        gcc_link(
            "client",
            "create",
            "--config",
            str(cluster.fed.configs["KW"]),
            "--agency",
            "KW/MOI",
            "--json",
            env=kw_node.env,
        ).stdout
    )
    cluster.fed.clients["KW"]["KW/MOI"] = created
    try:
        cluster.start()
        kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
        kw.headers
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda n: kw.send("SA/MOI", {"n": n}).json()["id"], range(N)))
        # two delivery processes on the one database, started together on a full queue
        for name in ("worker-a", "worker-b"):
            log = open(tmp_path / f"{name}.log", "wb")
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from gcc_link.cli import main; main()",
                    "node",
                    "deliver",
                    "--config",
                    str(cluster.fed.configs["KW"]),
                    "--name",
                    name,
                ],
                env={**os.environ, **kw_node.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            workers.append(NodeProc(name, cluster.fed.configs["KW"], "", tmp_path / f"{name}.log", proc=proc))
        with psycopg.connect(postgres_url.replace("postgresql://", "postgresql://", 1)) as conn:

            def delivered() -> bool:
                return conn.execute("SELECT count(*) FROM outbox WHERE status = 'delivered'").fetchone()[0] == N

            wait_until(delivered, 60, 0.2, what="all delivered")
            attempts = dict(conn.execute("SELECT attempts, count(*) FROM outbox GROUP BY attempts").fetchall())
        assert attempts == {1: N}, attempts  # every message claimed and sent exactly once
        received = [i["id"] for i in sa.all_inbox()]
        assert sorted(received) == sorted(ids)
        for w in workers:
            text = w.log_path.read_text()
            assert f"{w.cc}: batch of" in text, f"{w.cc} delivered nothing"
        result = json.loads(
            gcc_link("log", "verify", "--config", str(cluster.fed.configs["KW"]), "--json", env=kw_node.env).stdout
        )
        assert result["valid"] and result["entries"] == 2 * N  # message_sent + receipt_received each
    finally:
        for w in workers:
            if w.proc and w.proc.poll() is None:
                os.killpg(w.proc.pid, signal.SIGTERM)
                w.proc.wait(timeout=15)
        cluster.stop()
