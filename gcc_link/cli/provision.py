"""Build a local federation under a data dir: PKI, signed directory, node configs, clients.

Used by ``gcc-link demo`` and by the tests. It calls the same functions the
``gcc-link pki``, ``directory`` and ``client`` commands run, so the files it
leaves are the ones an operator's commands would, and writes each node's
``node.toml`` from the shipped template in ``nodes/<cc>/`` with ports, paths
and URLs for this machine. Steps whose output already exists are skipped,
so a second run reuses the PKI, databases and clients.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..node.clock import utcnow
from ..node.config import DEFAULT_AGENCY_SCOPES, load_config
from ..node.db import Database, migrate
from ..node.oauth import create_client
from ..protocol.errors import ConfigError
from . import directory as directory_files
from . import pki as pki_files
from .files import write_private

TEMPLATES = Path(__file__).resolve().parents[2] / "nodes"
ACTIVE_FIRST = ("KW", "SA", "QA")  # the trial interconnection launched with these three


class ProvisionError(ConfigError):
    code = "provision_failed"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(data: dict[str, Any]) -> str:
    """A minimal TOML writer for node configs (tables of scalars and arrays of tables)."""
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
            lines.append("")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
                lines.append("")
    return "\n".join(lines)


@dataclass
class Federation:
    """What was built: paths, node URLs and configs, agency credentials."""

    data_dir: Path
    pki_dir: Path
    states: list[str]
    ports: dict[str, int]
    urls: dict[str, str] = field(default_factory=dict)
    configs: dict[str, Path] = field(default_factory=dict)
    clients: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @property
    def root_cert(self) -> Path:
        return self.pki_dir / "gcc-root.pem"

    @property
    def directory(self) -> Path:
        return self.pki_dir / "directory.jws"


def node_config(
    template: dict[str, Any],
    *,
    cc: str,
    port: int,
    fed_dir: Path,
    pki_dir: Path,
    tls: bool,
    backend_base: str | None,
    node_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A node.toml for this machine, from a shipped template."""
    scheme = "https" if tls else "http"
    data = json.loads(json.dumps(template))
    node = data.setdefault("node", {})
    node.update(
        {
            "state": cc,
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"{scheme}://127.0.0.1:{port}",
            "data_dir": str(fed_dir / "nodes" / cc / "data"),
            "certificate": str(pki_dir / "nodes" / cc / "node.pem"),
            "private_key": str(pki_dir / "nodes" / cc / "node.key"),
            "directory": str(pki_dir / "directory.jws"),
            "dev_insecure_http": not tls,
        }
    )
    for key, value in (node_overrides or {}).items():
        section, _, name = key.rpartition(".")
        data.setdefault(section or "node", {})[name] = value
    for svc in data.get("services", []):
        if backend_base:
            svc["backend_url"] = f"{backend_base.rstrip('/')}/backend/{svc['id']}"
    return data


def load_template(cc: str, templates: Path = TEMPLATES) -> dict[str, Any]:
    path = templates / cc.lower() / "node.toml"
    if not path.exists():
        return {"node": {"state": cc}, "agencies": [{"id": f"{cc}/MOI", "name_en": "Ministry of Interior"}]}
    return tomllib.loads(path.read_text(encoding="utf-8"))


def build(
    data_dir: Path,
    states: list[str],
    port_base: int,
    *,
    tls: bool = False,
    backend_base: str | None = None,
    templates: Path = TEMPLATES,
    node_overrides: dict[str, Any] | None = None,
    create_clients: bool = True,
    directory_refresh_seconds: float | None = None,
) -> Federation:
    """Create (or reuse) everything a local federation of ``states`` needs under ``data_dir``."""
    data_dir = data_dir.resolve()
    pki = data_dir / "pki"
    ports = {cc: port_base + i for i, cc in enumerate(states)}
    fed = Federation(data_dir, pki, list(states), ports)
    scheme = "https" if tls else "http"
    now = utcnow()
    if not (pki / "gcc-root.pem").exists():
        pki_files.init_root(pki, now)
    templates_by_cc = {cc: load_template(cc, templates) for cc in states}
    for cc in states:
        if not (pki / "nodes" / cc / "node.pem").exists():
            pki_files.issue_node(pki, cc, now)
    if not (pki / "directory-draft.json").exists():
        directory_files.init(pki, 3, 2)
    draft = json.loads((pki / "directory-draft.json").read_text())
    changed = False
    for cc in states:
        url = f"{scheme}://127.0.0.1:{ports[cc]}"
        fed.urls[cc] = url
        if draft["members"].get(cc, {}).get("node_url") == url:
            continue
        services = tuple(s["id"] for s in templates_by_cc[cc].get("services", []))
        directory_files.add_member(pki, cc, url, "active" if cc in ACTIVE_FIRST else "trial", services=services)
        changed = True
    if changed or not (pki / "directory.jws").exists():
        directory_files.sign(pki, now)
    for cc in states:
        overrides = dict(node_overrides or {})
        if directory_refresh_seconds is not None:
            overrides["directory_refresh_seconds"] = directory_refresh_seconds
        cfg = node_config(
            templates_by_cc[cc],
            cc=cc,
            port=ports[cc],
            fed_dir=data_dir,
            pki_dir=pki,
            tls=tls,
            backend_base=backend_base,
            node_overrides=overrides,
        )
        path = data_dir / "nodes" / cc / "node.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_toml(cfg), encoding="utf-8")
        fed.configs[cc] = path
        creds = path.parent / "clients.json"
        if create_clients:
            if not creds.exists():
                write_private(creds, json.dumps(_create_clients(path)).encode())
            fed.clients[cc] = {
                c["agency"]: {"client_id": c["client_id"], "client_secret": c["client_secret"]}
                for c in json.loads(creds.read_text())
            }
    return fed


def _create_clients(config_path: Path) -> list[dict[str, str]]:
    """One OAuth client (all scopes) for every agency of the node configured at ``config_path``."""
    config = load_config(config_path)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(config.db_url)
    db = Database(config.db_url)
    return [create_client(db, agency.id, scopes=DEFAULT_AGENCY_SCOPES) for agency in config.agencies]
