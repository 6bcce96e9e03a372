"""Benchmark: end-to-end messages/s through two real nodes, against a bare Flask echo.

Measured in the same run, with the same HTTP client (8 threads) and the same
server setup (gunicorn, 2 workers x 4 threads, on 127.0.0.1):

* the ceiling: a bare Flask app that echoes a JSON POST (requests/s);
* GCC Link: agencies POST messages to the KW node (OAuth bearer, validate,
  sign, durable outbox commit), its delivery process batches them to the SA
  node (verify, durable inbox commit, signed receipts), receipts settle the
  outbox. The figure is messages/s from the first send until the last one
  is ``delivered``; the 202 acceptance rate is printed too.

    .venv/bin/python bench/node.py [--n 1000] [--threads 8]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gcc_link.cli.provision import build  # noqa: E402

BODY = {"plate": "12345 KW", "owner_civil_id": "289010112345", "query": "vehicle-record", "lang": "ar"}
ECHO = textwrap.dedent('''
    from flask import Flask, jsonify, request
    app = Flask(__name__)

    @app.post("/echo")
    def echo():
        return jsonify(request.get_json()), 202
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def start(args: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                env={**os.environ, **(env or {})})


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group while its leader lives; SIGKILL it if it does not stop."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16)
    s.mount("http://", adapter)
    return s


def bench_echo(tmp: Path, n: int, threads: int) -> float:
    (tmp / "echo_app.py").write_text(ECHO)
    port = free_port()
    proc = start([sys.executable, "-m", "gunicorn", "echo_app:app", "-b", f"127.0.0.1:{port}", "-w", "2",
                  "-k", "gthread", "--threads", "4", "--log-level", "warning"], tmp / "echo.log", cwd=tmp)
    try:
        url = f"http://127.0.0.1:{port}/echo"
        s = session()
        wait_http(f"http://127.0.0.1:{port}/nothing")
        for _ in range(50):
            s.post(url, json={"recipient": "SA/MOI", "body": BODY})
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            codes = list(pool.map(lambda i: s.post(url, json={"recipient": "SA/MOI", "body": {**BODY, "n": i}}).status_code,
                                  range(n)))
        elapsed = time.perf_counter() - started
        assert all(c == 202 for c in codes)
        return n / elapsed
    finally:
        stop(proc)


def bench_nodes(tmp: Path, n: int, threads: int) -> tuple[float, float]:
    base = free_port()
    fed = build(tmp / "fed", ["KW", "SA"], base, node_overrides={"mode": "production", "workers": 2,
                                                                "delivery.poll_seconds": 0.05})
    procs = [start([sys.executable, "-c", "from gcc_link.cli import main; main()", "node", "run", "--config",
                    str(fed.configs[cc])], tmp / f"{cc}.log") for cc in ("KW", "SA")]
    try:
        for cc in ("KW", "SA"):
            wait_http(fed.urls[cc] + "/readyz")
        creds = fed.clients["KW"]["KW/MOI"]
        s = session()
        token = s.post(fed.urls["KW"] + "/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(creds["client_id"], creds["client_secret"])).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = fed.urls["KW"] + "/api/v1/messages"
        outbox = fed.data_dir / "nodes" / "KW" / "data" / "node.sqlite"

        def delivered() -> int:
            with sqlite3.connect(outbox, timeout=30) as conn:
                return conn.execute("SELECT count(*) FROM outbox WHERE status = 'delivered'").fetchone()[0]

        for _ in range(20):  # warm up
            s.post(url, json={"recipient": "SA/MOI", "body": BODY}, headers=headers)
        deadline = time.monotonic() + 60
        while delivered() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            codes = list(pool.map(lambda i: s.post(url, json={"recipient": "SA/MOI", "body": {**BODY, "n": i}},
                                                   headers=headers).status_code, range(n)))
        accepted = time.perf_counter() - started
        assert all(c == 202 for c in codes), set(codes)
        deadline = time.monotonic() + 300
        while delivered() < n + 20:
            if time.monotonic() > deadline:
                raise SystemExit("delivery did not finish")
            time.sleep(0.02)
        end_to_end = time.perf_counter() - started
        return n / accepted, n / end_to_end
    finally:
        for p in procs:
            stop(p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gcc-link-bench-") as d:
        tmp = Path(d)
        echo = bench_echo(tmp, args.n, args.threads)
        accept, e2e = bench_nodes(tmp, args.n, args.threads)
    print(f"bare Flask echo (gunicorn 2x4):          {echo:8.0f} requests/s  (ceiling)")
    print(f"GCC Link KW accept (202, durable outbox): {accept:8.0f} messages/s  ({accept / echo:.2f} of ceiling)")
    print(f"GCC Link KW -> SA end to end (delivered): {e2e:8.0f} messages/s  ({e2e / echo:.2f} of ceiling)")
    print(f"ratio end-to-end / echo: {e2e / echo:.3f}   (n={args.n}, {args.threads} client threads, "
          f"{os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
