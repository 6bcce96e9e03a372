"""PostgreSQL: two delivery workers on one database claim with SKIP LOCKED; no double delivery.

Starts a throwaway PostgreSQL 15 cluster with initdb/pg_ctl in a temp dir
(as ``nobody``: postgres refuses to run as root), and stops it afterwards.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nodeharness import Cluster, NodeProc, free_port_base, gcc_link, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
BIN = Path("/usr/local/bin")
N = 300


def _as_pg_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start postgres as an unprivileged user")
    return ["runuser", "-u", "nobody", "--", *args]


@pytest.fixture(scope="module")
def postgres_url():
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (BIN / tool).exists() and shutil.which(tool) is None:
            pytest.skip(f"PostgreSQL binary {tool} not found")
    initdb = str(BIN / "initdb") if (BIN / "initdb").exists() else shutil.which("initdb")
    pg_ctl = str(BIN / "pg_ctl") if (BIN / "pg_ctl").exists() else shutil.which("pg_ctl")
    base = Path(tempfile.mkdtemp(prefix="gcc-link-pg-"))
    os.chmod(base, 0o755)
    data = base / "data"
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
    port = free_port_base(1)
    try:
        subprocess.run(_as_pg_user([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
                       check=True, capture_output=True, timeout=120)
        subprocess.run(_as_pg_user([pg_ctl, "-D", str(data), "-l", str(base / "pg.log"), "-w", "-t", "60", "-o",
                                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off",
                                    "start"]), check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {exc.stderr.decode()[-500:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_pg_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True,
                       timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_two_delivery_workers_no_double_delivery(tmp_path, postgres_url):
    import psycopg

    cluster = Cluster(tmp_path / "fed", ["KW", "SA"], overrides={"delivery.batch_size": 10})
    kw_node = cluster.nodes["KW"]
    kw_node.mode = "production"
    kw_node.env = {"GCC_NODE__DATABASE_URL": postgres_url, "GCC_NODE__DELIVERY_WORKERS": "0"}
    workers: list[NodeProc] = []
    # the KW node's store is PostgreSQL: its agency clients are registered there
    created = json.loads(gcc_link("client", "create", "--config", str(cluster.fed.configs["KW"]), "--agency", "KW/MOI",
                                  "--json", env=kw_node.env).stdout)
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
            proc = subprocess.Popen([sys.executable, "-c", "from gcc_link.cli import main; main()", "node", "deliver",
                                     "--config", str(cluster.fed.configs["KW"]), "--name", name],
                                    env={**os.environ, **kw_node.env}, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
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
        result = json.loads(gcc_link("log", "verify", "--config", str(cluster.fed.configs["KW"]), "--json",
                                     env=kw_node.env).stdout)
        assert result["valid"] and result["entries"] == 2 * N  # message_sent + receipt_received each
    finally:
        for w in workers:
            if w.proc and w.proc.poll() is None:
                os.killpg(w.proc.pid, signal.SIGTERM)
                w.proc.wait(timeout=15)
        cluster.stop()
