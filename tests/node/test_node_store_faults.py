"""Store faults never cost data silently: a vanished or read-only store is reported, never papered over (issue 9.21)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.node.nodeharness import Cluster, gcc_link, wait_until

pytestmark = pytest.mark.slow


def test_a_deleted_database_turns_readiness_red_and_a_restart_refuses_an_empty_store(make_cluster):
    cluster = make_cluster(["KW", "SA"])
    kw = cluster.agency("KW/MOI")
    mid = kw.send("SA/MOI", {"keep": True}).json()["id"]
    wait_until(lambda: kw.status(mid)["status"] == "delivered", 20, what="delivery")
    node = cluster.nodes["KW"]
    db = cluster.fed.data_dir / "nodes" / "KW" / "data" / "node.sqlite"
    assert requests.get(node.url + "/readyz", timeout=5).status_code == 200
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    r = requests.get(node.url + "/readyz", timeout=5)
    assert r.status_code == 503 and r.json()["checks"]["database"].startswith("error")
    node.stop()
    # a restart would have created an empty database and forgotten every message and client: refused
    out = gcc_link("node", "run", "--config", str(cluster.fed.configs["KW"]), check=False)
    assert out.returncode != 0 and "store_missing" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not db.exists() or db.stat().st_size == 0 or "alembic_version" not in db.read_bytes().decode("latin-1")
    # the operator may start empty on purpose
    migrated = gcc_link("node", "migrate", "--config", str(cluster.fed.configs["KW"]), "--initialise", check=False)
    assert migrated.returncode == 0, migrated.stderr


@pytest.mark.postgres
def test_a_read_only_store_is_not_ready_and_requests_get_503_not_500(tmp_path, postgres_url):
    import psycopg

    cluster = Cluster(tmp_path / "fed", ["KW", "SA"])
    node = cluster.nodes["KW"]
    node.env = {"GCC_NODE__DATABASE_URL": postgres_url}
    gcc_link("node", "migrate", "--config", str(cluster.fed.configs["KW"]), env=node.env)

    created = json.loads(
        gcc_link(
            "client", "create", "--config", str(cluster.fed.configs["KW"]), "--agency", "KW/MOI", "--json", env=node.env
        ).stdout
    )
    cluster.fed.clients["KW"]["KW/MOI"] = created
    try:
        cluster.start()
        kw = cluster.agency("KW/MOI")
        assert kw.send("SA/MOI", {"before": True}).status_code == 202
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("ALTER DATABASE postgres SET default_transaction_read_only = on")
        # pooled connections keep their old setting: the node's pools are recycled by ending their sessions
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND datname = 'postgres'"
            )

        def not_ready() -> bool:
            return requests.get(node.url + "/readyz", timeout=5).status_code == 503

        wait_until(not_ready, 20, 0.2, what="readiness red on a read-only store")
        r = requests.post(
            node.url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created["client_id"], created["client_secret"]),
            timeout=10,
        )
        assert r.status_code == 503, r.text
        r = requests.post(
            node.url + "/api/v1/messages", json={"recipient": "SA/MOI", "body": {}}, headers=kw.headers, timeout=10
        )
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
        log = node.log_path.read_text()
        assert "read-only" in log and "Background on this error" not in log
    finally:
        try:
            cluster.stop()  # first: whatever happens to the database, no node outlives the test
        finally:
            with psycopg.connect(postgres_url, autocommit=True, options="-c default_transaction_read_only=off") as conn:
                conn.execute("ALTER DATABASE postgres SET default_transaction_read_only = off")
