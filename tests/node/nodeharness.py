"""Test harness for real node processes on 127.0.0.1: start, wait, stop by PID; agency clients.

Nodes run as ``gcc-link node run`` subprocesses in their own session (process
group), so teardown and ``kill -9`` reach gunicorn workers and delivery
processes too. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from gcc_link.cli.provision import Federation, build


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_base(n: int) -> int:
    """A base port whose next ``n`` ports are free (bounded search), below the kernel's ephemeral range.

    A node may bind its port seconds after it was chosen (the rollout test
    starts three nodes late); a port inside the ephemeral range can be taken
    meanwhile by any outgoing connection on the machine ("Address already in use").
    """
    import random

    try:
        ephemeral_low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    top = max(ephemeral_low, 21000) - n - 1
    for _ in range(200):
        base = random.randint(20000, top)
        if all(port_free(base + i) for i in range(n)):
            return base
    raise RuntimeError("no free port range")


def wait_until(pred: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``pred`` until truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@dataclass
class NodeProc:
    """One node process (and its children) started by a test."""

    cc: str
    config: Path
    url: str
    log_path: Path
    mode: str = "development"
    env: dict[str, str] = field(default_factory=dict)
    verify: Any = True
    cert: Any = None
    proc: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> NodeProc:
        env = {**os.environ, **self.env}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from gcc_link.cli import main; main()",
                "node",
                "run",
                "--config",
                str(self.config),
                "--mode",
                self.mode,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 40, _restarts: int = 1) -> None:
        def ok() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise NodeExited(self.proc.returncode)
            try:
                return (
                    requests.get(self.url + "/readyz", timeout=2, verify=self.verify, cert=self.cert).status_code == 200
                )
            except requests.RequestException:
                return False

        try:
            wait_until(ok, timeout, 0.1, f"node {self.cc} ready")
        except NodeExited as exc:
            # On a shared machine another program may signal a recycled PID; a node that *fails*
            # exits with a positive code and is reported at once.
            if exc.returncode < 0 and _restarts > 0:
                with open(self.log_path, "a") as fh:
                    fh.write(f"[harness] node killed by signal {-exc.returncode} while starting; restarting once\n")
                self.start(wait=False)
                return self.wait_healthy(timeout, _restarts - 1)
            raise AssertionError(
                f"node {self.cc} exited with {exc.returncode}: {self.log_path.read_text()[-3000:]}"
            ) from None

    def _signal_group(self, sig: int) -> None:
        """Signal the node's process group, only while its leader is unreaped (its PGID cannot be recycled)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill9(self) -> None:
        """``kill -9`` the node's whole process group (web workers and delivery processes)."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the group and wait; SIGKILL the group if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=10)


class NodeExited(Exception):
    def __init__(self, returncode: int) -> None:
        super().__init__(returncode)
        self.returncode = returncode


class Agency:
    """An agency's client of its node's API (client_secret_basic)."""

    def __init__(self, node: NodeProc, agency: str, client_id: str, secret: str) -> None:
        self.node, self.agency, self.client_id, self.secret = node, agency, client_id, secret
        self.http = requests.Session()
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE would override session.verify
        self.http.verify = node.verify
        self._token: str | None = None

    def token(self, scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        r = self.http.post(self.node.url + "/oauth/token", data=data, auth=(self.client_id, self.secret), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = self.token()
        return {"Authorization": f"Bearer {self._token}"}

    def send(self, recipient: str, body: Any, **extra: Any) -> requests.Response:
        return self.http.post(
            self.node.url + "/api/v1/messages",
            json={"recipient": recipient, "body": body, **extra},
            headers=self.headers,
            timeout=30,
        )

    def status(self, message_id: str) -> dict[str, Any]:
        r = self.http.get(self.node.url + f"/api/v1/messages/{message_id}", headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def inbox(self, after: str | None = None, limit: int = 500) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        r = self.http.get(self.node.url + "/api/v1/inbox", params=params, headers=self.headers, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def all_inbox(self) -> list[dict[str, Any]]:
        items, after = [], None
        for _ in range(1000):
            page = self.inbox(after)
            if not page["items"]:
                return items
            items += page["items"]
            after = page["next"]
        raise AssertionError("inbox paging did not end")

    def ack(self, message_id: str) -> requests.Response:
        return self.http.post(self.node.url + f"/api/v1/inbox/{message_id}/ack", headers=self.headers, timeout=10)

    def call(self, service: str, body: Any) -> requests.Response:
        return self.http.post(self.node.url + f"/api/v1/calls/{service}", json=body, headers=self.headers, timeout=60)


class Cluster:
    """A federation built in a temp dir and its running nodes."""

    def __init__(
        self,
        root: Path,
        states: list[str],
        *,
        mode: str = "development",
        tls: bool = False,
        overrides: dict[str, Any] | None = None,
        backend_base: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        base = free_port_base(len(states) + 4)  # room for members that join later
        self.root, self.base, self.tls, self.backend_base = root, base, tls, backend_base
        over = {
            "delivery.poll_seconds": 0.05,
            "delivery.backoff_base_seconds": 0.2,
            "delivery.backoff_max_seconds": 2.0,
            "delivery.request_timeout_seconds": 5.0,
            "workers": 2,
            **(overrides or {}),
        }
        self.overrides = over
        self.fed: Federation = build(root, states, base, tls=tls, backend_base=backend_base, node_overrides=over)
        verify: Any = str(self.fed.root_cert) if tls else True
        self.nodes: dict[str, NodeProc] = {}
        for cc in states:
            self.nodes[cc] = NodeProc(
                cc,
                self.fed.configs[cc],
                self.fed.urls[cc],
                root / f"{cc}.log",
                mode=mode,
                env=dict(env or {}),
                verify=verify,
            )

    def add_member(self, cc: str, mode: str = "development") -> NodeProc:
        """Sign a new directory version listing ``cc`` too, and start its node."""
        states = [*self.fed.states, cc]
        self.fed = build(
            self.root, states, self.base, tls=self.tls, backend_base=self.backend_base, node_overrides=self.overrides
        )
        node = NodeProc(
            cc,
            self.fed.configs[cc],
            self.fed.urls[cc],
            self.root / f"{cc}.log",
            mode=mode,
            verify=self.nodes[states[0]].verify,
        )
        self.nodes[cc] = node
        return node.start()

    def start(self) -> Cluster:
        for node in self.nodes.values():
            node.start(wait=False)
        for node in self.nodes.values():
            node.wait_healthy()
        return self

    def agency(self, address: str) -> Agency:
        cc = address.split("/")[0]
        creds = self.fed.clients[cc][address]
        return Agency(self.nodes[cc], address, creds["client_id"], creds["client_secret"])

    def service_admin(self, address: str) -> Agency:
        """A client of ``address`` that also holds ``services:admin`` (agencies' default clients do not)."""
        cc = address.split("/")[0]
        out = gcc_link(
            "client",
            "create",
            "--config",
            str(self.fed.configs[cc]),
            "--agency",
            address,
            *[a for s in ("messages:send", "messages:read", "calls", "services:admin") for a in ("--scope", s)],
            "--json",
        )
        created = json.loads(out.stdout)
        return Agency(self.nodes[cc], address, created["client_id"], created["client_secret"])

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def directory(self):  # -> Directory
        from datetime import datetime, timezone

        from gcc_link.protocol.directory import load_directory

        return load_directory(self.fed.directory.read_bytes(), datetime.now(timezone.utc))

    def logs(self) -> str:
        return "\n".join(
            f"--- {cc}\n" + n.log_path.read_text()[-4000:] for cc, n in self.nodes.items() if n.log_path.exists()
        )


def gcc_link(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``gcc-link`` CLI as a real subprocess."""
    result = subprocess.run(
        [sys.executable, "-c", "from gcc_link.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"gcc-link {' '.join(args)} failed: {result.stderr}")
    return result


def jdump(obj: Any) -> str:
    return json.dumps(obj)
