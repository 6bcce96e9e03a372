"""Benchmark: a node on PostgreSQL, throughput against worker count.

KW runs in production mode on a throwaway PostgreSQL cluster (fsync on, the
real durability cost) with W gunicorn workers and D delivery workers; SA on
SQLite receives. For each (W, D) a fresh database; agencies submit messages
on 16 client threads; printed: accepted messages/s (202, durable outbox
commit) and end-to-end messages/s (until all are ``delivered``), medians over
rounds, and the ratio to the (1, 1) configuration measured in the same run.
The question it answers: does the hash-chained log's head row (locked by
every appending transaction until it commits) cap throughput as workers are
added? On a 2-core machine shared with the load generator, more workers
cannot add CPU; what the figures can show is whether adding them collapses
throughput (lock convoy) or holds it.

    .venv/bin/python bench/scaleout.py [--n 400] [--rounds 3] [--configs 1x1,2x1,4x2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from common import PostgresCluster, Row, drive, median, print_table, session, start, stop, wait_for, wait_http
from node import BODY, _port_base

from gcc_link.cli.provision import build


def one_config(tmp: Path, pg: PostgresCluster, workers: int, delivery: int, n: int, rounds: int) -> tuple[float, float]:
    import psycopg

    name = f"kw_{workers}x{delivery}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg.url.rsplit("/", 1)[0] + "/" + name
    fed = build(
        tmp / name,
        ["KW", "SA"],
        _port_base(),
        node_overrides={"mode": "production", "workers": 2, "delivery.poll_seconds": 0.05},
    )
    env = {
        "GCC_NODE__DATABASE_URL": url,
        "GCC_NODE__WORKERS": str(workers),
        "GCC_NODE__DELIVERY_WORKERS": str(delivery),
    }
    import subprocess

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from gcc_link.cli import main; main()",
            "client",
            "create",
            "--config",
            str(fed.configs["KW"]),
            "--agency",
            "KW/MOI",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, **env},
        check=True,
    )
    creds = json.loads(out.stdout)
    procs = {
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
            tmp / f"{name}-{cc}.log",
            env=env if cc == "KW" else None,
        )
        for cc in ("KW", "SA")
    }
    try:
        for cc in ("KW", "SA"):
            wait_http(fed.urls[cc] + "/readyz", proc=procs[cc], log=tmp / f"{name}-{cc}.log")
        http = session()
        token = http.post(
            fed.urls["KW"] + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def send(i: int) -> None:
            r = http.post(
                fed.urls["KW"] + "/api/v1/messages",
                json={"recipient": "SA/MOI", "body": {**BODY, "n": i}},
                headers=headers,
            )
            if r.status_code != 202:
                raise SystemExit(f"{r.status_code} {r.text[:200]}")

        with psycopg.connect(url, autocommit=True) as conn:

            def delivered() -> int:
                return int(conn.execute("SELECT count(*) FROM outbox WHERE status = 'delivered'").fetchone()[0])

            drive(send, 30, 4)
            wait_for(lambda: delivered() >= 30, 120, "warm-up")
            accept, e2e = [], []
            waits: Counter[str] = Counter()
            blocked: Counter[str] = Counter()  # statements of the sessions waiting on a lock
            sampling = threading.Event()

            def sample() -> None:
                """What the database's active sessions wait on, sampled during the load."""
                with psycopg.connect(pg.url, autocommit=True) as probe:
                    while not sampling.is_set():
                        for kind, event, count in probe.execute(
                            "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, 'running'), count(*)"
                            " FROM pg_stat_activity WHERE state = 'active' AND datname = %s"
                            " AND pid <> pg_backend_pid() GROUP BY 1, 2",
                            (name,),
                        ):
                            waits[f"{kind}:{event}"] += count
                        for (query,) in probe.execute(
                            "SELECT left(regexp_replace(w.query, '\\s+', ' ', 'g'), 60) || '  <- held by: '"
                            " || coalesce(b.state, '?') || ' ' || left(regexp_replace(b.query, '\\s+', ' ', 'g'), 60)"
                            " FROM pg_stat_activity w LEFT JOIN pg_stat_activity b"
                            " ON b.pid = (pg_blocking_pids(w.pid))[1]"
                            " WHERE w.state = 'active' AND w.datname = %s AND w.wait_event_type = 'Lock'",
                            (name,),
                        ):
                            blocked[query] += 1
                        time.sleep(0.01)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            for _ in range(rounds):
                before = delivered()
                started = time.perf_counter()
                accept.append(drive(send, n, 16).rate)
                wait_for(lambda b=before: delivered() >= b + n, 600, "delivery")
                e2e.append(n / (time.perf_counter() - started))
            sampling.set()
            sampler.join(timeout=10)
            total = sum(waits.values()) or 1
            print(
                f"{name}: PostgreSQL sessions during the load (sampled): "
                + ", ".join(f"{k} {v / total:.0%}" for k, v in waits.most_common(5)),
                flush=True,
            )
            waiting = sum(blocked.values()) or 1
            for query, count in blocked.most_common(3):
                print(f"  waiting on a lock {count / waiting:.0%}: {query}", flush=True)
        return median(accept), median(e2e)
    finally:
        for p in procs.values():
            stop(p)


def run(configs: list[tuple[int, int]], n: int, rounds: int) -> tuple[list[Row], dict[str, object]]:
    pg = PostgresCluster(fsync=True)
    results: dict[tuple[int, int], tuple[float, float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="gcc-link-bench-scale-") as d:
            for w, dw in configs:
                results[(w, dw)] = one_config(Path(d), pg, w, dw, n, rounds)
    finally:
        pg.stop()
    base_accept, base_e2e = results[configs[0]]
    rows = []
    for (w, dw), (acc, e2e) in results.items():
        rows.append(
            Row(
                f"KW on PostgreSQL, {w} web x {dw} delivery: accepted",
                acc,
                "msg/s",
                base_accept,
                f"{configs[0][0]}x{configs[0][1]} accepted",
            )
        )
        rows.append(
            Row(
                f"KW on PostgreSQL, {w} web x {dw} delivery: delivered",
                e2e,
                "msg/s",
                base_e2e,
                f"{configs[0][0]}x{configs[0][1]} delivered",
            )
        )
    return rows, {
        f"pg_{w}x{dw}_{k}": round(v, 1)
        for (w, dw), pair in results.items()
        for k, v in zip(("accepted", "delivered"), pair, strict=True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", default="1x1,2x1,4x2")
    args = parser.parse_args()
    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]
    rows, figures = run(configs, args.n, args.rounds)  # type: ignore[arg-type]
    print_table("node scale-out on one PostgreSQL (16 client threads, medians)", rows)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
