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
SAMPLE_CALLS = {"KW": ("SA/MUROOR/vehicle-record", "KW/MOI", {"plate": "KW-12345"}),
                "SA": ("KW/PACI/civil-id-verify", "SA/NIC", {"id_number": "280010100001"}),
                "QA": ("KW/MOH/nurse-licence", "QA/MOPH", {"licence": "KW-N-2024-001"})}


_TLS: dict[str, ssl.SSLContext] = {}  # "ctx": trusts the demo's GCC root when --tls


def _http(method: str, url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
          timeout: float = 10) -> tuple[int, Any]:
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
    status, body = _http("POST", url + "/oauth/token", data=b"grant_type=client_credentials",
                         headers={"Authorization": f"Basic {basic}",
                                  "Content-Type": "application/x-www-form-urlencoded"})
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
        body = json.dumps({"recipient": recipient, "body": {"greeting": "السلام عليكم", "from": sender,
                                                           "demonstration_data": True}}).encode()
        status, answer = _http("POST", fed.urls[src] + "/api/v1/messages", data=body,
                               headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        done.append(f"{sender} -> {recipient}: {status} {answer.get('status') if isinstance(answer, dict) else ''}")
    for src, (service, agency, request) in SAMPLE_CALLS.items():
        if src in states and state_of(service) in states and agency in fed.clients.get(src, {}):
            token = _token(fed.urls[src], fed.clients[src][agency])
            status, answer = _http("POST", fed.urls[src] + f"/api/v1/calls/{service}", data=json.dumps(request).encode(),
                                   headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                   timeout=30)
            done.append(f"call {agency} -> {service}: {status}")
    return done


def _portal_available() -> bool:
    try:
        return subprocess.run([*CLI, "portal", "--help"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@click.command("demo")
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-data"),
              show_default=True)
@click.option("--port-base", type=click.IntRange(1024, 65000), default=8100, show_default=True,
              help="Portal on PORT_BASE, nodes on PORT_BASE+1.., demo backend on PORT_BASE+99.")
@click.option("--states", default=",".join(GCC_STATES), show_default=True, help="Comma-separated member states.")
@click.option("--no-portal", is_flag=True, help="Start the nodes only.")
@click.option("--tls", is_flag=True, help="Mutual TLS between nodes (default: plain HTTP on 127.0.0.1).")
@click.option("--production", is_flag=True, help="Run each node under gunicorn with a delivery process.")
def demo(data_dir: Path, port_base: int, states: str, no_portal: bool, tls: bool, production: bool) -> None:
    """Build and start a local federation (and the portal), write DIR/demo.json, run until stopped."""
    from ..node import demo_backend
    from .provision import build

    try:
        chosen = [parse_state(s.strip()) for s in states.split(",") if s.strip()]
    except Exception as exc:  # noqa: BLE001 - one-line reason
        raise click.ClickException(str(exc)) from None
    if not chosen or len(set(chosen)) != len(chosen):
        raise click.ClickException("--states needs distinct member states")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "demo.json").unlink(missing_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    backend_port = port_base + 99
    backend = demo_backend.start(backend_port)
    fed = build(data_dir, chosen, port_base + 1, tls=tls, backend_base=f"http://127.0.0.1:{backend_port}",
                node_overrides={"mode": "production" if production else "development"})
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for cc in chosen:
            with open(logs / f"node-{cc}.log", "ab") as log:
                procs.append(subprocess.Popen([*CLI, "node", "run", "--config", str(fed.configs[cc])],
                                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        if tls:
            _TLS["ctx"] = ssl.create_default_context(cafile=str(fed.root_cert))
        for cc in chosen:
            if not _wait(fed.urls[cc] + "/readyz", 60, procs):
                raise click.ClickException(f"node {cc} did not start; see {logs / f'node-{cc}.log'}")
        portal: dict[str, Any] | None = None
        if not no_portal:
            portal = _start_portal(data_dir, port_base, fed, procs, logs)
        traffic = _sample_traffic(fed)
        info = {
            "root_cert": str(fed.root_cert), "directory": str(fed.directory), "portal": portal,
            "nodes": {cc: {"url": fed.urls[cc], "config": str(fed.configs[cc]), "agencies": fed.clients[cc]}
                      for cc in chosen},
            "sample_traffic": traffic,
        }
        write_private(data_dir / "demo.json", json.dumps(info, indent=1, ensure_ascii=False).encode())
        click.echo(f"GCC Link demo running: {', '.join(f'{cc} {fed.urls[cc]}' for cc in chosen)}"
                   + (f"; portal {portal['url']}" if portal else "") + f"; credentials in {data_dir / 'demo.json'}")
        click.echo("Ctrl-C to stop.")
        while not stop.is_set():
            if any(p.poll() is not None for p in procs):
                click.echo("a demo process exited; stopping", err=True)
                break
            stop.wait(0.5)
    finally:
        _stop(procs)
        backend.shutdown()
    click.echo("demo stopped")


def _start_portal(data_dir: Path, port_base: int, fed: Any, procs: list[subprocess.Popen[bytes]],
                  logs: Path) -> dict[str, Any] | None:
    if not _portal_available():
        click.echo("warning: the portal is not installed; starting the nodes only", err=True)
        return None
    instance = data_dir / "portal"
    env = {**os.environ, "GCC_PORTAL__DIRECTORY_FILE": str(fed.directory), "GCC_PORTAL__ROOT_CERT": str(fed.root_cert)}
    init = subprocess.run([*CLI, "portal", "init", "--instance", str(instance), "--demo", "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    if init.returncode != 0:
        click.echo(f"warning: portal init failed ({init.stderr.strip()[-300:]}); nodes only", err=True)
        return None
    admin = json.loads(init.stdout)["admin"]
    port = port_base
    with open(logs / "portal.log", "ab") as log:
        procs.append(subprocess.Popen([*CLI, "portal", "run", "--instance", str(instance), "--port", str(port)],
                                      stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))
    url = f"http://127.0.0.1:{port}"
    if not _wait(url + "/", 60, procs[-1:]):
        click.echo(f"warning: the portal did not start; see {logs / 'portal.log'}", err=True)
        return None
    return {"url": url, "admin": {"username": admin["username"], "password": admin["password"]}}
