"""Fixtures shared by every test package: a throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path("/usr/local/bin")


def _pg_tool(name: str) -> str | None:
    return str(PG_BIN / name) if (PG_BIN / name).exists() else shutil.which(name)


def _as_pg_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as ``nobody`` then."""
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start postgres as an unprivileged user")
    return ["runuser", "-u", "nobody", "--", *args]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL cluster (initdb/pg_ctl in a temp dir) on 127.0.0.1 for one test module, then stopped."""
    yield from _postgres_cluster()


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """Like ``postgres_url``, one cluster for the whole session (for session-scoped fixtures,
    e.g. a search index built once); tests using it must isolate themselves (own schema)."""
    yield from _postgres_cluster()


def _postgres_cluster() -> Iterator[str]:
    """Start a throwaway cluster, yield its URL, stop it and remove its files."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not (initdb and pg_ctl and _pg_tool("postgres")):
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl, postgres) not found")
    base = Path(tempfile.mkdtemp(prefix="gcc-link-pg-"))
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    try:
        subprocess.run(
            _as_pg_user([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            _as_pg_user(
                [
                    pg_ctl,
                    "-D",
                    str(data),
                    "-l",
                    str(base / "pg.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {exc.stderr.decode()[-500:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_pg_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60
        )
        shutil.rmtree(base, ignore_errors=True)
