"""Shared helpers of the benchmarks: processes on 127.0.0.1 started and stopped
by PID, a load generator, medians and percentiles, and the result table.

Absolute figures mean little on a shared 2-core machine, so every benchmark
measures its ceiling in the same run, with the same client, and reports the
median over rounds plus the ratio to that ceiling.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PG_BIN = Path("/usr/local/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``args`` in a new session (its own process group), output to ``log``."""
    with open(log, "ab") as fh:
        return subprocess.Popen(
            args,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group while its leader lives; SIGKILL it if it does not stop."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGCONT)  # in case a benchmark paused it
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def session(pool: int = 32) -> requests.Session:
    """A keep-alive HTTP session with room for ``pool`` concurrent connections."""
    s = requests.Session()
    s.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
    s.mount("http://", adapter)
    return s


def wait_http(url: str, timeout: float = 90, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Wait (bounded) until ``url`` answers below 500."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{url}: server exited: {log.read_text()[-2000:] if log else ''}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def wait_for(pred: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Load:
    """What one load run measured: operations, wall time and each operation's latency (s)."""

    ops: int
    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


def drive(op: Callable[[int], Any], n: int, threads: int) -> Load:
    """Run ``op(i)`` for i in range(n) on ``threads`` client threads; every call is timed."""
    latencies: list[float] = []
    lock = threading.Lock()

    def timed(i: int) -> None:
        t0 = time.perf_counter()
        op(i)
        dt = time.perf_counter() - t0
        with lock:
            latencies.append(dt)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(timed, range(n)))
    return Load(n, time.perf_counter() - started, latencies)


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Row:
    """One line of the result table: a goal, our median, the ceiling's, the ratio."""

    name: str
    ours: float | None
    unit: str
    ceiling: float | None = None
    ceiling_name: str = ""
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.ceiling:
            return None
        return self.ours / self.ceiling


def print_table(title: str, rows: list[Row]) -> None:
    """A plain-text table of medians and ratios."""
    print(f"\n## {title}")
    print(f"{'measure':44s} {'median':>10s} {'unit':8s} {'ceiling':>10s} {'ratio':>6s}  {'goal':22s} met  ceiling is")
    for r in rows:
        ours = "n/a" if r.ours is None else f"{r.ours:10.1f}"
        ceiling = "" if r.ceiling is None else f"{r.ceiling:10.1f}"
        ratio = "" if r.ratio is None else f"{r.ratio:6.2f}"
        met = {True: "yes", False: "NO", None: ""}[r.met]
        print(
            f"{r.name:44s} {ours:>10s} {r.unit:8s} {ceiling:>10s} {ratio:>6s}  {r.goal:22s} {met:3s}  {r.ceiling_name}"
        )
    sys.stdout.flush()


def pg_available() -> bool:
    return all((PG_BIN / tool).exists() for tool in ("initdb", "pg_ctl", "postgres"))


class PostgresCluster:
    """A throwaway PostgreSQL cluster (as tests/conftest.py starts one), for benchmarks."""

    def __init__(self, fsync: bool = True) -> None:
        import pwd
        import shutil
        import tempfile

        base = Path(tempfile.mkdtemp(prefix="gcc-link-bench-pg-"))
        self.base, self.data = base, base / "data"
        os.chmod(base, 0o755)
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(base, nobody.pw_uid, nobody.pw_gid)
            if shutil.which("runuser") is None:
                raise SystemExit("running as root without runuser: cannot start postgres")
            self.prefix = ["runuser", "-u", "nobody", "--"]
        self.port = free_port()
        subprocess.run(
            [*self.prefix, str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = (
            f"-p {self.port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=200"
            f" -c fsync={'on' if fsync else 'off'} -c shared_buffers=256MB"
        )
        subprocess.run(
            [
                *self.prefix,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(base / "pg.log"),
                "-w",
                "-t",
                "60",
                "-o",
                opts,
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        import shutil

        shutil.rmtree(self.base, ignore_errors=True)
