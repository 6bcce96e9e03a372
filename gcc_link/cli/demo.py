"""``gcc-link demo``: a whole local federation on 127.0.0.1, ready to try.

Builds what is missing under ``--data-dir`` (PKI, signed directory, node
configs, databases, agency clients), starts the demo agency backend, the
nodes and (unless ``--no-portal``) the knowledge portal, sends some sample
cross-border traffic, writes ``DIR/demo.json`` and runs until SIGINT/SIGTERM,
then stops everything it started. Standard library and click only here; the
node's own modules are imported when the command runs.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Any

import click

from ..protocol.identifiers import GCC_STATES, parse_state, state_of
from .files import write_private

CLI = [sys.executable, "-c", "from gcc_link.cli import main; main()"]
SAMPLE_CALLS = {
    "KW": ("SA/MUROOR/vehicle-record", "KW/MOI", {"plate": "KW-12345"}),
    "SA": ("KW/PACI/civil-id-verify", "SA/NIC", {"id_number": "280010100001"}),
    "QA": ("KW/MOH/nurse-licence", "QA/MOPH", {"licence": "KW-N-2024-001"}),
}


_TLS: dict[str, ssl.SSLContext] = {}  # "ctx": trusts the demo's GCC root when --tls


def _http(
    method: str, url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_TLS.get("ctx")) as resp:  # noqa: S310
            body = resp.read()
            return resp.status, json.loads(body) if body[:1] in (b"{", b"[") else body
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, body


def _wait(url: str, timeout: float, procs: list[subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            status, _ = _http("GET", url, timeout=2)
            if status < 500:
                return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


def _token(url: str, creds: dict[str, str]) -> str:
    basic = b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    status, body = _http(
        "POST",
        url + "/oauth/token",
        data=b"grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise click.ClickException(f"token request failed at {url}: {body}")
    return body["access_token"]


def _sample_traffic(fed: Any) -> list[str]:
    """A few messages around the network and a service call or two; returns what happened."""
    done: list[str] = []
    states = fed.states
    for i, src in enumerate(states):
        dst = states[(i + 1) % len(states)]
        if src == dst:
            continue
        sender = next(iter(fed.clients[src]))
        recipient = next(iter(fed.clients[dst]))
        token = _token(fed.urls[src], fed.clients[src][sender])
        body = json.dumps(
            {"recipient": recipient, "body": {"greeting": "السلام عليكم", "from": sender, "demonstration_data": True}}
        ).encode()
        status, answer = _http(
            "POST",
            fed.urls[src] + "/api/v1/messages",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        done.append(f"{sender} -> {recipient}: {status} {answer.get('status') if isinstance(answer, dict) else ''}")
    for src, (service, agency, request) in SAMPLE_CALLS.items():
        if src in states and state_of(service) in states and agency in fed.clients.get(src, {}):
            token = _token(fed.urls[src], fed.clients[src][agency])
            status, answer = _http(
                "POST",
                fed.urls[src] + f"/api/v1/calls/{service}",
                data=json.dumps(request).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=30,
            )
            done.append(f"call {agency} -> {service}: {status}")
    return done


def _portal_available() -> bool:
    try:
        return subprocess.run([*CLI, "portal", "--help"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@click.command("demo")
@click.option(
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
)
@click.option(
    "--port-base",
    type=click.IntRange(1024, 65000),
    default=8100,
    show_default=True,
    help="Portal on PORT_BASE, nodes on PORT_BASE+1.., demo backend on PORT_BASE+99.",
)
@click.option("--states", default=",".join(GCC_STATES), show_default=True, help="Comma-separated member states.")
@click.option("--no-portal", is_flag=True, help="Start the nodes only.")
@click.option("--tls", is_flag=True, help="Mutual TLS between nodes (default: plain HTTP on 127.0.0.1).")
@click.option("--production", is_flag=True, help="Run each node under gunicorn with a delivery process.")
@click.option(
    "--traffic-every",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds between sample messages while the demo runs (0: none).",
)
def demo(
    data_dir: Path, port_base: int, states: str, no_portal: bool, tls: bool, production: bool, traffic_every: float
) -> None:
    """Build and start a local federation (and the portal), write DIR/demo.json, run until stopped."""
    from ..node import demo_backend
    from .provision import build

    try:
        chosen = [parse_state(s.strip()) for s in states.split(",") if s.strip()]
    except Exception as exc:  # noqa: BLE001 - one-line reason
        raise click.ClickException(str(exc)) from None
    if not chosen or len(set(chosen)) != len(chosen):
        raise click.ClickException("--states needs distinct member states")
    started = time.monotonic()
    data_dir = data_dir.resolve()
    reused = (data_dir / "pki" / "directory.jws").exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "demo.json").unlink(missing_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    backend_port = port_base + 99
    _progress(1, f"{'reusing' if reused else 'building'} the PKI, member directory and node configs in {data_dir}")
    backend = demo_backend.start(backend_port)
    fed = build(
        data_dir,
        chosen,
        port_base + 1,
        tls=tls,
        backend_base=f"http://127.0.0.1:{backend_port}",
        node_overrides={"mode": "production" if production else "development"},
    )
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    supervisor = Supervisor(logs)
    try:
        _progress(2, f"starting {len(chosen)} nodes: {' '.join(chosen)}")
        for cc in chosen:
            supervisor.start(
                f"node {cc}",
                [*CLI, "node", "run", "--config", str(fed.configs[cc])],
                logs / f"node-{cc}.log",
                fed.urls[cc] + "/readyz",
            )
        if tls:
            _TLS["ctx"] = ssl.create_default_context(cafile=str(fed.root_cert))
        for cc in chosen:
            if not _wait(fed.urls[cc] + "/readyz", 60, supervisor.procs()):
                raise click.ClickException(f"node {cc} did not start; see {logs / f'node-{cc}.log'}")
            click.echo(f"      node {cc} ready at {fed.urls[cc]}")
        portal: dict[str, Any] | None = None
        if not no_portal:
            _progress(3, "starting the portal (first run: demo content and search index)")
            portal = _start_portal(data_dir, port_base, fed, supervisor, logs)
        _progress(4, "sending sample cross-border messages and service calls")
        traffic = _sample_traffic(fed)
        info = {
            "root_cert": str(fed.root_cert),
            "directory": str(fed.directory),
            "portal": portal,
            "nodes": {
                cc: {"url": fed.urls[cc], "config": str(fed.configs[cc]), "agencies": fed.clients[cc]} for cc in chosen
            },
            "sample_traffic": traffic,
        }
        write_private(data_dir / "demo.json", json.dumps(info, indent=1, ensure_ascii=False).encode())
        _progress(5, f"ready in {time.monotonic() - started:.0f} s")
        click.echo(_summary(fed, chosen, portal, data_dir))
        if traffic_every > 0:
            threading.Thread(
                target=_keep_traffic, args=(fed, traffic_every, stop), name="demo-traffic", daemon=True
            ).start()
        while not stop.is_set():
            supervisor.restart_exited(stop)
            stop.wait(0.5)
    finally:
        supervisor.stop_all()
        backend.shutdown()
    click.echo("demo stopped")


def _progress(step: int, text: str) -> None:
    click.echo(f"[{step}/5] {text}")


def _summary(fed: Any, chosen: list[str], portal: dict[str, Any] | None, data_dir: Path) -> str:
    """What a newcomer needs on one screen: where things are, how to log in, a first request to paste."""
    lines = ["", "GCC Link demo is running (Ctrl-C stops everything):", ""]
    if portal:
        lines += [
            f"  portal        {portal['url']}/ar/  (English: {portal['url']}/en/)",
            f"  admin         user {portal['admin']['username']}  password {portal['admin']['password']}",
        ]
    for cc in chosen:
        lines.append(f"  node {cc}       {fed.urls[cc]}   agencies: {', '.join(sorted(fed.clients[cc]))}")
    src = chosen[0]
    agency = sorted(fed.clients[src])[0]
    creds = fed.clients[src][agency]
    dst = chosen[1] if len(chosen) > 1 else chosen[0]
    recipient = sorted(fed.clients[dst])[0]
    url = fed.urls[src]
    lines += [
        "",
        f"  Try it (as {agency}, sending to {recipient}):",
        f"    TOKEN=$(curl -s -u {creds['client_id']}:{creds['client_secret']} -d grant_type=client_credentials "
        f"{url}/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        f"    curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
        f'-d \'{{"recipient": "{recipient}", "body": {{"hello": "world"}}}}\' {url}/api/v1/messages',
        "",
        f"  Credentials of every agency: {data_dir / 'demo.json'}   logs: {data_dir / 'logs'}",
        "",
    ]
    return "\n".join(lines)


def _keep_traffic(fed: Any, every: float, stop: threading.Event) -> None:
    """A little realistic cross-border traffic while the demo runs, so the network page has something to show."""
    import random

    rng = random.Random(7)
    states = list(fed.states)
    tokens: dict[tuple[str, str], str] = {}
    while not stop.wait(every):
        if len(states) < 2:
            return
        src, dst = rng.sample(states, 2)
        sender, recipient = rng.choice(sorted(fed.clients[src])), rng.choice(sorted(fed.clients[dst]))
        try:
            if (src, sender) not in tokens:
                tokens[(src, sender)] = _token(fed.urls[src], fed.clients[src][sender])
            body = json.dumps(
                {
                    "recipient": recipient,
                    "body": {"demonstration_data": True, "from": sender, "subject": rng.choice(DEMO_SUBJECTS)},
                }
            ).encode()
            status, _answer = _http(
                "POST",
                fed.urls[src] + "/api/v1/messages",
                data=body,
                headers={"Authorization": f"Bearer {tokens[(src, sender)]}", "Content-Type": "application/json"},
            )
            if status == 401:
                tokens.pop((src, sender), None)  # expired: a new token next time
        except (OSError, click.ClickException):
            continue  # a node restarting: try again later


#: What the background traffic is about (demonstration data, marked as such in every body).
DEMO_SUBJECTS = (
    "vehicle record request",
    "civil ID verification",
    "nurse licence check",
    "commercial registration lookup",
    "customs declaration notice",
    "residency status query",
)


class Supervisor:
    """The demo's child processes: restarted when one dies, all stopped at the end."""

    MAX_RESTARTS = 5

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: dict[str, tuple[list[str], Path, str, subprocess.Popen[bytes], dict[str, str] | None]] = {}
        self.restarts: dict[str, int] = {}

    def start(
        self, name: str, cmd: list[str], log: Path, ready_url: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.children[name] = (cmd, log, ready_url, proc, env)
        return proc

    def procs(self) -> list[subprocess.Popen[bytes]]:
        return [child[3] for child in self.children.values()]

    def restart_exited(self, stop: threading.Event) -> None:
        """One demo process dying does not stop the demo: say so and start it again (bounded)."""
        for name, (cmd, log, ready_url, proc, env) in list(self.children.items()):
            if proc.poll() is None or stop.is_set():
                continue
            self.restarts[name] = self.restarts.get(name, 0) + 1
            if self.restarts[name] > self.MAX_RESTARTS:
                click.echo(f"{name} keeps exiting (code {proc.returncode}); left stopped, see {log}", err=True)
                self.children.pop(name)
                continue
            click.echo(f"{name} exited (code {proc.returncode}); restarting it, the others keep running", err=True)
            self.start(name, cmd, log, ready_url, env)
            if _wait(ready_url, 60, [self.children[name][3]]):
                click.echo(f"{name} is back")

    def stop_all(self) -> None:
        _stop(self.procs())


def _start_portal(
    data_dir: Path, port_base: int, fed: Any, supervisor: Supervisor, logs: Path
) -> dict[str, Any] | None:
    if not _portal_available():
        click.echo("warning: the portal is not installed; starting the nodes only", err=True)
        return None
    instance = data_dir / "portal"
    env = {**os.environ, "GCC_PORTAL__DIRECTORY_FILE": str(fed.directory), "GCC_PORTAL__ROOT_CERT": str(fed.root_cert)}
    init = subprocess.run(
        [*CLI, "portal", "init", "--instance", str(instance), "--demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if init.returncode != 0:
        click.echo(f"warning: portal init failed ({init.stderr.strip()[-300:]}); nodes only", err=True)
        return None
    admin = json.loads(init.stdout)["admin"]
    port = port_base
    url = f"http://127.0.0.1:{port}"
    proc = supervisor.start(
        "portal",
        [*CLI, "portal", "run", "--instance", str(instance), "--port", str(port)],
        logs / "portal.log",
        url + "/healthz",
        env,
    )
    if not _wait(url + "/", 60, [proc]):
        click.echo(f"warning: the portal did not start; see {logs / 'portal.log'}", err=True)
        return None
    return {"url": url, "admin": {"username": admin["username"], "password": admin["password"]}}
