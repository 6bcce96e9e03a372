"""``gcc-link demo --no-portal``: builds, starts, writes demo.json, works, stops everything on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest
import requests

from tests.node.nodeharness import free_port_base, port_free, wait_until

pytestmark = pytest.mark.slow


def _pid_listening(port: int) -> int:
    """The PID of the process listening on 127.0.0.1:``port`` (the test kills exactly that node)."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"pid=(\d+)", out)
    assert match, out
    return int(match.group(1))


def test_demo_no_portal(tmp_path):
    base = free_port_base(100)
    data = tmp_path / "demo"
    log = open(tmp_path / "demo.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from gcc_link.cli import main; main()",
            "demo",
            "--no-portal",
            "--states",
            "KW,SA",
            "--data-dir",
            str(data),
            "--port-base",
            str(base),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: (data / "demo.json").exists() or proc.poll() is not None, 90, 0.2, what="demo.json")
        assert proc.poll() is None, (tmp_path / "demo.log").read_text()
        info = json.loads((data / "demo.json").read_text())
        assert set(info) >= {"root_cert", "directory", "portal", "nodes"}
        assert info["portal"] is None and set(info["nodes"]) == {"KW", "SA"}
        kw = info["nodes"]["KW"]
        creds = kw["agencies"]["KW/MOI"]
        token = requests.post(
            kw["url"] + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        r = requests.post(
            kw["url"] + "/api/v1/messages",
            json={"recipient": "SA/MOI", "body": {"demo": 1}},
            headers=headers,
            timeout=10,
        )
        assert r.status_code == 202
        mid = r.json()["id"]
        wait_until(
            lambda: (
                requests.get(kw["url"] + f"/api/v1/messages/{mid}", headers=headers, timeout=5).json()["status"]
                == "delivered"
            ),
            20,
            what="delivery",
        )
        # the sample traffic included a service call answered through the demo backend
        assert any(line.startswith("call") and line.endswith("200") for line in info["sample_traffic"])
        # a newcomer's screen: progress lines, then a table with every node and a curl pair to paste
        out = (tmp_path / "demo.log").read_text()
        assert "[1/5]" in out and "[5/5] ready in" in out and "TOKEN=$(curl" in out and kw["url"] in out
        # one node killed: the demo says so and restarts it, the other keeps running
        sa_port = int(info["nodes"]["SA"]["url"].rsplit(":", 1)[1])
        pid = _pid_listening(sa_port)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: "node SA is back" in (tmp_path / "demo.log").read_text(), 60, 0.3, what="SA restarted")
        assert proc.poll() is None and _pid_listening(sa_port) != pid
        r = requests.post(
            kw["url"] + "/api/v1/messages",
            json={"recipient": "SA/MOI", "body": {"after": "restart"}},
            headers=headers,
            timeout=10,
        )
        mid = r.json()["id"]
        wait_until(
            lambda: (
                requests.get(kw["url"] + f"/api/v1/messages/{mid}", headers=headers, timeout=5).json()["status"]
                == "delivered"
            ),
            30,
            what="delivery after the restart",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        log.close()
    assert rc == 0
    assert all(port_free(base + i) for i in (1, 2, 99)), "demo left processes listening"


def test_demo_with_portal_stops_on_sigint(tmp_path):
    """``gcc-link demo`` (what ``make demo`` runs) also starts the portal; Ctrl-C stops everything."""
    cli = [sys.executable, "-c", "from gcc_link.cli import main; main()"]
    if subprocess.run([*cli, "portal", "--help"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("the portal is not installed")
    base = free_port_base(100)
    data = tmp_path / "demo"
    log = open(tmp_path / "demo.log", "wb")
    proc = subprocess.Popen(
        [*cli, "demo", "--states", "KW,SA", "--data-dir", str(data), "--port-base", str(base)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: (data / "demo.json").exists() or proc.poll() is not None, 180, 0.2, what="demo.json")
        assert proc.poll() is None, (tmp_path / "demo.log").read_text()
        info = json.loads((data / "demo.json").read_text())
        portal = info["portal"]
        assert portal and portal["url"] == f"http://127.0.0.1:{base}"
        assert portal["admin"]["username"] and portal["admin"]["password"]
        assert requests.get(portal["url"] + "/", timeout=10).status_code < 500
        # the demo portal shows what the nodes attest: both signed statuses verified against the directory
        network = requests.get(portal["url"] + "/api/v1/network", timeout=20).json()
        assert network["directory_version"] == 1
        assert {s["cc"]: s["online"] for s in network["states"]} == {"KW": True, "SA": True}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=40)
        finally:
            if proc.poll() is None:
                proc.kill()
        log.close()
    assert rc == 0
    assert all(port_free(base + i) for i in (0, 1, 2, 99)), "demo left processes listening"
