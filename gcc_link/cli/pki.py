"""``gcc-link pki``: the development GCC PKI (root CA, node certificates, revocation)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from ..protocol import pki as core
from ..protocol.errors import PkiError
from ..protocol.identifiers import parse_state
from .files import at_option, json_option, now_or, write_private, write_public
from .output import emit, fail, guarded

ROOT_CERT = "gcc-root.pem"
ROOT_KEY = "gcc-root.key"
REVOKED = "revoked.json"


def node_paths(directory: Path, cc: str) -> tuple[Path, Path]:
    return directory / "nodes" / cc / "node.pem", directory / "nodes" / cc / "node.key"


def read_revoked(directory: Path) -> set[int]:
    path = directory / REVOKED
    if not path.exists():
        return set()
    return {int(s, 16) for s in json.loads(path.read_text())}


@click.group("pki")
def pki_group() -> None:
    """The GCC PKI: root CA and node certificates (ECDSA P-256)."""


pki = pki_group  # registered by name in gcc_link.cli


@pki_group.command("init-root")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@click.option("--days", type=click.IntRange(1, 36500), default=core.ROOT_DAYS, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing root (invalidates every node certificate).")
@at_option
@json_option
@guarded
def init_root_command(directory: Path, days: int, force: bool, at: str | None, as_json: bool) -> None:
    """Create the GCC root CA: DIR/gcc-root.pem and DIR/gcc-root.key (0600)."""
    result = init_root(directory, now_or(at), days=days, force=force)
    emit(result, as_json, f"root CA {result['cert']} (sha256 {result['fingerprint']})")


def init_root(directory: Path, now: datetime, *, days: int = core.ROOT_DAYS, force: bool = False) -> dict[str, str]:
    """Create the root CA files under ``directory``; refuses to replace one unless ``force``."""
    cert_path, key_path = directory / ROOT_CERT, directory / ROOT_KEY
    if cert_path.exists() and not force:
        raise PkiError(f"{cert_path} exists; use --force to replace it")
    key, cert = core.create_root(now, days=days)
    write_private(key_path, core.key_pem(key))
    write_public(cert_path, core.cert_pem(cert))
    return {"cert": str(cert_path), "key": str(key_path), "fingerprint": core.cert_fingerprint(cert)}


@pki_group.command("issue-node")
@click.argument("cc")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@click.option("--days", type=click.IntRange(1, 3650), default=core.NODE_DAYS, show_default=True)
@click.option("--dns", "dns_names", multiple=True, default=("localhost",), show_default=True)
@click.option("--ip", "ips", multiple=True, default=("127.0.0.1",), show_default=True)
@at_option
@json_option
@guarded
def issue_node_command(
    cc: str, directory: Path, days: int, dns_names: tuple[str, ...], ips: tuple[str, ...], at: str | None, as_json: bool
) -> None:
    """Issue a node certificate for state CC: DIR/nodes/CC/node.pem and node.key (0600)."""
    result = issue_node(directory, cc, now_or(at), days=days, dns_names=dns_names, ips=ips)
    emit(
        result,
        as_json,
        f"{cc} node certificate {result['cert']} serial {result['serial']} sha256 {result['fingerprint']}",
    )


def issue_node(
    directory: Path,
    cc: str,
    now: datetime,
    *,
    days: int = core.NODE_DAYS,
    dns_names: tuple[str, ...] = ("localhost",),
    ips: tuple[str, ...] = ("127.0.0.1",),
) -> dict[str, str]:
    """Issue and write the node certificate and key of state ``cc``, signed by the root under ``directory``."""
    parse_state(cc)
    try:
        root_key = core.load_private_key((directory / ROOT_KEY).read_bytes())
        root_cert = core.load_certificate((directory / ROOT_CERT).read_bytes())
        key = core.generate_key()
        cert = core.issue_node_certificate(
            root_key, root_cert, cc, key.public_key(), now, days=days, dns_names=dns_names, ip_addresses=ips
        )
    except FileNotFoundError as exc:
        raise PkiError(f"{exc.filename} not found; run 'gcc-link pki init-root --dir {directory}' first") from None
    except ValueError as exc:
        raise PkiError(str(exc)) from None
    cert_path, key_path = node_paths(directory, cc)
    write_private(key_path, core.key_pem(key))
    write_public(cert_path, core.cert_pem(cert))
    return {
        "state": cc,
        "cert": str(cert_path),
        "key": str(key_path),
        "serial": f"{cert.serial_number:x}",
        "fingerprint": core.cert_fingerprint(cert),
    }


@pki_group.command("revoke")
@click.argument("serial")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@json_option
@guarded
def revoke(serial: str, directory: Path, as_json: bool) -> None:
    """Revoke a certificate by its hex SERIAL; published by the next 'directory sign'."""
    try:
        number = int(serial.lower().removeprefix("0x").replace(":", ""), 16)
    except ValueError:
        fail(f"not a hex serial: {serial}")
    revoked = read_revoked(directory)
    revoked.add(number)
    write_public(directory / REVOKED, json.dumps(sorted(f"{s:x}" for s in revoked), indent=1).encode())
    emit(
        {"revoked": f"{number:x}", "count": len(revoked)},
        as_json,
        f"serial {number:x} revoked; run 'gcc-link directory sign' to publish it",
    )
