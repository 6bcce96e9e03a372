"""Backup and restore of a node whose store is PostgreSQL (pg_dump on the snapshot that read the log head).

The throwaway PostgreSQL cluster comes from ``postgres_url`` in tests/conftest.py.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.node.nodeharness import Cluster, gcc_link, wait_until

pytestmark = [pytest.mark.postgres]
PASS = "pg backup passphrase"


def test_postgres_backup_restore_and_gap(tmp_path, postgres_url):
    import psycopg

    cluster = Cluster(tmp_path / "fed", ["KW", "SA"])
    kw_node = cluster.nodes["KW"]
    env = {"GCC_NODE__DATABASE_URL": postgres_url, "GCC_BACKUP_PASSPHRASE": PASS}
    kw_node.env = {"GCC_NODE__DATABASE_URL": postgres_url}
    config = str(cluster.fed.configs["KW"])
    created = json.loads(
        gcc_link("client", "create", "--config", config, "--agency", "KW/MOI", "--json", env=env).stdout
    )
    cluster.fed.clients["KW"]["KW/MOI"] = created

    def statuses() -> dict[str, str]:
        with psycopg.connect(postgres_url) as conn:
            return dict(conn.execute("SELECT id, status FROM outbox").fetchall())

    try:
        cluster.start()
        kw = cluster.agency("KW/MOI")
        before = [kw.send("SA/MOI", {"n": i}).json()["id"] for i in range(3)]
        wait_until(lambda: set(statuses().values()) == {"delivered"} and len(statuses()) == 3, 30, what="delivered")
        out = json.loads(
            gcc_link("node", "backup", "--config", config, "--out", str(tmp_path / "kw.bak"), "--json", env=env).stdout
        )
        assert out["store"] == "postgresql" and out["includes_private_key"] is False
        after = [kw.send("SA/MOI", {"late": i}).json()["id"] for i in range(2)]
        wait_until(lambda: len(statuses()) == 5 and set(statuses().values()) == {"delivered"}, 30, what="late ones")
        kw_node.stop()
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # the disaster: the database is gone
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        restored = json.loads(
            gcc_link("node", "restore", str(tmp_path / "kw.bak"), "--config", config, "--json", env=env).stdout
        )
        assert restored["log_verify"]["valid"] and restored["store"] == "postgresql"
        assert sorted(statuses()) == sorted(before)
        kw_node.start()
        text = requests.get(kw_node.url + "/metrics", timeout=10).text  # the trigger-kept totals came back too
        assert 'gcc_link_messages_total{peer="SA",status="delivered"} 3.0' in text
        gap = gcc_link("node", "check-gap", "--config", config, "--json", check=False, env=env)
        assert gap.returncode == 1
        assert sorted(f["id"] for f in json.loads(gap.stdout)["lost"]) == sorted(after)
        r = kw.send("SA/MOI", {"new": 1})
        assert r.status_code == 202  # the restored node works, the chain goes on
        wait_until(lambda: statuses().get(r.json()["id"]) == "delivered", 30, what="new delivery")
        assert json.loads(gcc_link("log", "verify", "--config", config, "--json", env=env).stdout)["valid"]
    finally:
        cluster.stop()
