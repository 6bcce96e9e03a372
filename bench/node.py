"""Benchmark: two real nodes (KW → SA) against bare servers measured in the same run.

Everything is served the same way (gunicorn on 127.0.0.1, the nodes in
production mode) and driven by the same client (``requests``, keep-alive,
``--threads`` client threads on the same cores), rounds repeated, medians kept:

* async single: agencies POST one message per request to KW (OAuth bearer,
  validate, sign, durable outbox commit); a delivery worker batches them to SA
  (verify, durable inbox commit, signed receipts); the figure is messages/s
  from the first send until the last is ``delivered``. Ceiling: a bare Flask
  JSON echo (gunicorn 2 workers x 4 threads), requests/s.
* async batched: a backlog submitted while the delivery worker is paused
  (SIGSTOP), then resumed (SIGCONT): messages/s until all are delivered
  through peer batches with durable commits on both sides. Ceiling: the bare
  echo receiving the same batch bodies (messages/s).
* synchronous call: KW agency → KW node → SA node → the provider's backend
  (a Flask app under gunicorn, like a real one) and back, signed both ways;
  against calling that backend directly. Calls/s under load and the added
  p50 latency measured one call at a time.

    .venv/bin/python bench/node.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from common import Row, drive, free_port, median, print_table, session, start, stop, wait_for, wait_http

from gcc_link.cli.provision import build

BODY = {"plate": "12345 KW", "owner_civil_id": "289010112345", "query": "vehicle-record", "lang": "ar"}
SERVICE = "SA/MUROOR/vehicle-record"
SERVERS = textwrap.dedent("""
    from flask import Flask, jsonify, request
    app = Flask(__name__)

    @app.post("/echo")
    def echo():
        return jsonify(request.get_json()), 202

    @app.post("/backend/<path:service>")
    def backend(service):
        req = request.get_json()
        return jsonify({"service": service, "plate": req.get("plate"), "registered": True,
                        "make": "Toyota", "model": "Land Cruiser", "year": 2022,
                        "demonstration_data": True})
""")
GUNICORN = ["-w", "2", "-k", "gthread", "--threads", "4", "--log-level", "warning"]


def serve_bare(tmp: Path) -> tuple[Any, str]:
    """The ceiling's server: echo and a provider backend, gunicorn 2x4."""
    (tmp / "bare_servers.py").write_text(SERVERS)
    port = free_port()
    log = tmp / "bare.log"
    proc = start(
        [sys.executable, "-m", "gunicorn", "bare_servers:app", "-b", f"127.0.0.1:{port}", *GUNICORN], log, cwd=tmp
    )
    wait_http(f"http://127.0.0.1:{port}/nothing", proc=proc, log=log)
    return proc, f"http://127.0.0.1:{port}"


class Nodes:
    """KW and SA in production mode; KW's delivery runs as a separate process we can pause."""

    def __init__(self, tmp: Path, backend: str) -> None:
        fed = build(
            tmp / "fed",
            ["KW", "SA"],
            _port_base(),
            backend_base=backend,
            node_overrides={
                "mode": "production",
                "workers": 2,
                "delivery.poll_seconds": 0.05,
                "node.backend_allowlist": [backend + "/"],
            },
        )
        self.fed = fed
        env = {"GCC_NODE__DELIVERY_WORKERS": "0"}
        self.procs = {
            cc: start(
                [
                    sys.executable,
                    "-c",
                    "from gcc_link.cli import main; main()",
                    "node",
                    "run",
                    "--config",
                    str(fed.configs[cc]),
                ],
                tmp / f"{cc}.log",
                env=env if cc == "KW" else None,
            )
            for cc in ("KW", "SA")
        }
        for cc in ("KW", "SA"):
            wait_http(fed.urls[cc] + "/readyz", proc=self.procs[cc], log=tmp / f"{cc}.log")
        self.delivery = start(
            [
                sys.executable,
                "-c",
                "from gcc_link.cli import main; main()",
                "node",
                "deliver",
                "--config",
                str(fed.configs["KW"]),
                "--name",
                "bench",
            ],
            tmp / "KW-delivery.log",
        )
        creds = fed.clients["KW"]["KW/MOI"]
        self.http = session()
        token = self.http.post(
            fed.urls["KW"] + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.outbox = fed.data_dir / "nodes" / "KW" / "data" / "node.sqlite"

    def delivered(self) -> int:
        with sqlite3.connect(self.outbox, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM outbox WHERE status = 'delivered'").fetchone()[0])

    def send(self, i: int) -> None:
        r = self.http.post(
            self.fed.urls["KW"] + "/api/v1/messages",
            json={"recipient": "SA/MOI", "body": {**BODY, "n": i}},
            headers=self.headers,
        )
        if r.status_code != 202:
            raise SystemExit(f"send failed: {r.status_code} {r.text[:300]}")

    def call(self, i: int) -> None:
        r = self.http.post(
            self.fed.urls["KW"] + f"/api/v1/calls/{SERVICE}", json={**BODY, "n": i}, headers=self.headers
        )
        if r.status_code != 200:
            raise SystemExit(f"call failed: {r.status_code} {r.text[:300]}")

    def pause_delivery(self, paused: bool) -> None:
        """SIGSTOP/SIGCONT the bench's delivery worker; never leave it stopped holding KW's store write lock.

        A worker stopped inside a transaction (or just granted the ``flock``
        of ``node.sqlite.lock``) would block every KW writer, so the backlog
        sends would hang until the resume that only comes after them.
        """
        if not paused:
            os.killpg(self.delivery.pid, signal.SIGCONT)
            return
        for _ in range(200):
            os.killpg(self.delivery.pid, signal.SIGSTOP)
            time.sleep(0.01)  # let the stop take effect before reading the lock table
            if not _holds_flock(self.delivery.pid):
                return
            os.killpg(self.delivery.pid, signal.SIGCONT)
            time.sleep(0.02)
        raise SystemExit("could not pause the delivery worker outside a write transaction")

    def stop(self) -> None:
        stop(self.delivery)
        for p in self.procs.values():
            stop(p)


def _holds_flock(pgid: int) -> bool:
    """Whether a process of group ``pgid`` holds a granted ``flock`` (Linux ``/proc/locks``)."""
    pids = {pgid}
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.getpgid(int(entry)) == pgid:
                pids.add(int(entry))
        except OSError:
            continue  # gone meanwhile
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return False
    return any(
        "FLOCK" in line and "->" not in line and int(line.split()[4]) in pids for line in lines if len(line.split()) > 4
    )


def _port_base() -> int:
    """A base port whose next two ports are free (bounded attempts)."""
    import socket

    for _ in range(50):
        base = free_port()
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", base + 1))
                b.bind(("127.0.0.1", base + 2))
            return base + 1
        except OSError:
            continue
    raise SystemExit("no free port pair")


def run(quick: bool, threads: int = 8) -> tuple[list[Row], dict[str, Any]]:
    """All node benchmarks; returns the table rows and the JSON figures."""
    rounds = 3
    n = 150 if quick else 500
    backlog = 600 if quick else 3000
    calls = 80 if quick else 200
    seq_calls = 30 if quick else 60
    with tempfile.TemporaryDirectory(prefix="gcc-link-bench-") as d:
        tmp = Path(d)
        bare, bare_url = serve_bare(tmp)
        nodes = None
        try:
            http = session()
            batch_body = ["x" * 1400] * 50  # 50 messages of a JWS's size, as a peer batch carries

            def echo(i: int) -> None:
                assert (
                    http.post(bare_url + "/echo", json={"recipient": "SA/MOI", "body": {**BODY, "n": i}}).status_code
                    == 202
                )

            def echo_batch(i: int) -> None:
                assert http.post(bare_url + "/echo", json=batch_body).status_code == 202

            def direct(i: int) -> None:
                assert http.post(bare_url + f"/backend/{SERVICE}", json={**BODY, "n": i}).status_code == 200

            nodes = Nodes(tmp, bare_url)
            for i in range(30):  # warm up: imports, connections, token cache, stemmers
                echo(i), direct(i), nodes.send(i), nodes.call(i)
            wait_for(lambda: nodes.delivered() >= 30, 120, "warm-up delivery")

            echo_rates, single_rates, batch_rates, echo_batch_rates = [], [], [], []
            call_rates, direct_rates, call_p50, direct_p50 = [], [], [], []
            for _ in range(rounds):
                echo_rates.append(drive(echo, n, threads).rate)
                before = nodes.delivered()
                started = time.perf_counter()
                drive(nodes.send, n, threads)
                wait_for(lambda b=before: nodes.delivered() >= b + n, 600, "delivery")
                single_rates.append(n / (time.perf_counter() - started))

                echo_batch_rates.append(drive(echo_batch, max(20, backlog // 50), 4).rate * 50)
                nodes.pause_delivery(True)
                before = nodes.delivered()
                drive(nodes.send, backlog, threads)
                started = time.perf_counter()
                nodes.pause_delivery(False)
                wait_for(lambda b=before: nodes.delivered() >= b + backlog, 600, "batched delivery")
                batch_rates.append(backlog / (time.perf_counter() - started))

                direct_rates.append(drive(direct, calls, threads).rate)
                call_rates.append(drive(nodes.call, calls, threads).rate)
                direct_p50.append(median(drive(direct, seq_calls, 1).latencies) * 1000)
                call_p50.append(median(drive(nodes.call, seq_calls, 1).latencies) * 1000)
        finally:
            if nodes is not None:
                nodes.stop()
            stop(bare)
    echo_m, single_m = median(echo_rates), median(single_rates)
    batch_m, echo_batch_m = median(batch_rates), median(echo_batch_rates)
    call_m, direct_m = median(call_rates), median(direct_rates)
    added = median(call_p50) - median(direct_p50)
    rows = [
        Row(
            "async single: submitted -> in SA inbox",
            single_m,
            "msg/s",
            echo_m,
            "bare Flask echo, req/s",
            ">= 0.5x ceiling",
            single_m / echo_m >= 0.5,
        ),
        Row(
            "async batched: backlog via peer batches",
            batch_m,
            "msg/s",
            echo_batch_m,
            "echo of same batch bodies",
            ">= 3000 msg/s",
            batch_m >= 3000,
        ),
        Row(
            "sync call through two nodes",
            call_m,
            "call/s",
            direct_m,
            "backend called directly",
            ">= 0.5x ceiling",
            call_m / direct_m >= 0.5,
        ),
        Row("sync call p50, one at a time", median(call_p50), "ms", median(direct_p50), "direct p50 (ms)"),
        Row("sync call added p50", added, "ms", None, "", "<= 5 ms", added <= 5),
    ]
    figures = {
        "async_single_msgs_per_s": round(single_m, 1),
        "echo_req_per_s": round(echo_m, 1),
        "async_single_ratio": round(single_m / echo_m, 3),
        "async_batched_msgs_per_s": round(batch_m, 1),
        "batch_echo_msgs_per_s": round(echo_batch_m, 1),
        "sync_call_per_s": round(call_m, 1),
        "direct_call_per_s": round(direct_m, 1),
        "sync_call_ratio": round(call_m / direct_m, 3),
        "sync_added_p50_ms": round(added, 2),
        "node_rounds": rounds,
    }
    return rows, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    rows, figures = run(args.quick, args.threads)
    print_table(f"node ({os.cpu_count()} cores, {args.threads} client threads, medians)", rows)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
