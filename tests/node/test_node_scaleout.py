"""Node scale-out (issue 12): one member state's node as two instances behind
one address (nginx, with the config shipped in deploy/nginx/), sharing one
PostgreSQL, each with several gunicorn workers and several delivery workers.

Traffic flows both ways through the balancer: agencies of KW submit messages
to SA (accepted by either instance, delivered by any of four delivery
workers), SA delivers peer batches to KW (received by either instance), and
KW's agency pages its inbox through the balancer (cursor pages answered by
alternating instances). Nothing may be lost or doubled; the message log stays
one valid chain. A throwaway PostgreSQL comes from ``postgres_url``
(tests/conftest.py); nginx from the machine (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.node.nodeharness import Cluster, NodeProc, free_port_base, gcc_link, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONF = ROOT / "deploy" / "nginx" / "gcc-link-node.conf"
N = 120  # messages each way


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def render_nginx(where: Path, listen: int, instances: list[int]) -> Path:
    """A complete nginx.conf (foreground, files under ``where``) including the
    shipped site config with this test's ports."""
    site = SHIPPED_CONF.read_text()
    assert "127.0.0.1:8101" in site and "127.0.0.1:8102" in site and "listen 8100;" in site
    site = site.replace("127.0.0.1:8101", f"127.0.0.1:{instances[0]}")
    site = site.replace("127.0.0.1:8102", f"127.0.0.1:{instances[1]}")
    site = site.replace("listen 8100;", f"listen 127.0.0.1:{listen};")
    (where / "site.conf").write_text(site)
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (where / d).mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = where / "nginx.conf"
    conf.write_text(f"""{user}daemon off;
worker_processes 1;
pid {where}/nginx.pid;
error_log {where}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format upstream '$request_method $uri $status $upstream_addr';
    access_log {where}/access.log upstream;
    client_body_temp_path {where}/body;
    proxy_temp_path {where}/proxy;
    fastcgi_temp_path {where}/fastcgi;
    uwsgi_temp_path {where}/uwsgi;
    scgi_temp_path {where}/scgi;
    include {where}/site.conf;
}}
""")
    return conf


def test_two_instances_behind_nginx_on_one_postgres(tmp_path: Path, postgres_url: str) -> None:
    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("nginx is not installed (Debian package nginx; .ci/run installs it)")
    import psycopg

    cluster = Cluster(tmp_path / "fed", ["KW", "SA"], overrides={"delivery.batch_size": 20})
    kw_url = cluster.fed.urls["KW"]  # the directory's node_url for KW: the balancer
    listen = int(kw_url.rsplit(":", 1)[1])
    base = free_port_base(2)
    ports = [base, base + 1]
    kw_env = {
        "GCC_NODE__DATABASE_URL": postgres_url,
        "GCC_NODE__PUBLIC_URL": kw_url,
        "GCC_NODE__WORKERS": "2",
        "GCC_NODE__DELIVERY_WORKERS": "2",
    }
    created = json.loads(
        gcc_link(
            "client", "create", "--config", str(cluster.fed.configs["KW"]), "--agency", "KW/MOI", "--json", env=kw_env
        ).stdout
    )
    cluster.fed.clients["KW"]["KW/MOI"] = created
    instances = [
        NodeProc(
            "KW",
            cluster.fed.configs["KW"],
            f"http://127.0.0.1:{port}",
            tmp_path / f"kw-{i}.log",
            mode="production",
            env={**kw_env, "GCC_NODE__PORT": str(port)},
        )
        for i, port in enumerate(ports)
    ]
    balancer = cluster.nodes["KW"]  # used only for its URL: requests go through nginx
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    conf = render_nginx(nginx_dir, listen, ports)
    proxy: subprocess.Popen | None = None
    try:
        cluster.nodes["SA"].start()
        for inst in instances:  # one after the other: the first one prepares the shared store
            inst.start()
        proxy = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(nginx_dir)],
            stdout=subprocess.DEVNULL,
            stderr=open(nginx_dir / "stderr.log", "wb"),
            start_new_session=True,
        )

        def balancer_ready() -> bool:
            assert proxy is not None and proxy.poll() is None, (nginx_dir / "stderr.log").read_text()
            try:
                return requests.get(kw_url + "/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(balancer_ready, 30, 0.1, what="nginx in front of KW")
        assert balancer.url == kw_url
        kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")

        # both directions at once: KW agency → (nginx) → KW instances → SA; SA → (nginx) → KW instances
        with ThreadPoolExecutor(8) as pool:
            out = pool.map(lambda n: kw.send("SA/MOI", {"n": n, "dir": "out"}), range(N))
            inc = pool.map(lambda n: sa.send("KW/MOI", {"n": n, "dir": "in"}), range(N))
            out_responses, in_responses = list(out), list(inc)
        assert [r.status_code for r in out_responses] == [202] * N, {r.status_code for r in out_responses}
        assert [r.status_code for r in in_responses] == [202] * N
        sent_out = [r.json()["id"] for r in out_responses]
        sent_in = [r.json()["id"] for r in in_responses]

        with psycopg.connect(postgres_url) as conn:

            def kw_settled() -> bool:
                return conn.execute("SELECT count(*) FROM outbox WHERE status = 'delivered'").fetchone()[0] == N

            wait_until(kw_settled, 120, 0.2, what="KW outbox delivered")
            attempts = dict(conn.execute("SELECT attempts, count(*) FROM outbox GROUP BY attempts").fetchall())
        assert attempts == {1: N}, attempts  # each message claimed and sent once by the four delivery workers

        received_by_sa = [i["id"] for i in sa.all_inbox()]
        assert Counter(received_by_sa) == Counter(sent_out)  # nothing lost, nothing doubled
        wait_until(
            lambda: all(sa.status(m)["status"] == "delivered" for m in sent_in[-5:]),
            120,
            0.2,
            what="SA outbox delivered",
        )
        assert all(sa.status(m)["status"] == "delivered" for m in sent_in)
        # KW's inbox read through the balancer: pages come from either instance, cursors still line up
        received_by_kw = [i["id"] for i in kw.all_inbox()]
        assert Counter(received_by_kw) == Counter(sent_in)

        # the balancer really spread the work: both instances answered agency and peer requests
        lines = (nginx_dir / "access.log").read_text().splitlines()
        for path in ("/api/v1/messages", "/peer/v1/messages"):
            used = {
                m.group(1) for line in lines if path in line for m in [re.search(r"127\.0\.0\.1:(\d+)$", line)] if m
            }
            assert used == {str(p) for p in ports}, (path, used)

        # the instances' sequencers chained every recorded entry by themselves (log verify would chain the rest)
        with psycopg.connect(postgres_url) as conn:
            wait_until(
                lambda: conn.execute("SELECT count(*) FROM message_log_pending").fetchone()[0] == 0,
                60,
                0.2,
                what="log entries chained by the sequencers",
            )
            chained = conn.execute("SELECT count(*) FROM message_log").fetchone()[0]
        assert chained >= 4 * N
        # one valid hash chain over everything both instances appended
        result = json.loads(
            gcc_link("log", "verify", "--config", str(cluster.fed.configs["KW"]), "--json", env=kw_env).stdout
        )
        assert result["valid"], result
        assert result["entries"] >= 4 * N  # sent + receipt received, received + receipt sent
    finally:
        if proxy is not None and proxy.poll() is None:
            proxy.terminate()
            proxy.wait(timeout=15)
        for inst in instances:
            inst.stop()
        cluster.stop()
