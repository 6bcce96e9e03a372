"""``gcc-link node|client|log|evidence``: run a node, register agency clients, check the log, evidence.

Registered by ``gcc_link.cli`` by name. Failures print one line and exit
non-zero; ``--json`` prints machine-readable results.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import click

from ..protocol.errors import GccLinkError
from ..protocol.message import MESSAGE_TYP
from ..protocol.receipt import RECEIPT_TYP

config_option = click.option("--config", "config_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                             required=True, help="The node's node.toml.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON result.")


def _fail(reason: str) -> NoReturn:
    click.echo(f"error: {reason}", err=True)
    sys.exit(1)


def _guarded(fn: Any) -> Any:
    """Turn the expected failures of a command into one line and exit 1 (no traceback)."""
    import functools

    import requests

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GccLinkError as exc:
            _fail(f"{exc.code}: {exc.message}")
        except (OSError, requests.RequestException) as exc:
            _fail(f"{type(exc).__name__}: {exc}")

    return wrapper


def _config(path: Path):  # -> NodeConfig
    from .config import load_config

    try:
        return load_config(path)
    except GccLinkError as exc:
        _fail(f"{exc.code}: {exc.message}")


def _db(config):  # -> Database
    from .db import Database, migrate

    config.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(config.db_url)
    return Database(config.db_url)


def _emit(result: Any, as_json: bool, human: str) -> None:
    click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True) if as_json else human)


# --- node --------------------------------------------------------------------

@click.group("node")
def node() -> None:
    """Run a member state's node."""


@node.command("run")
@config_option
@click.option("--mode", type=click.Choice(["development", "production"]), help="Override node.mode.")
@_guarded
def node_run(config_path: Path, mode: str | None) -> None:
    """Serve the node (migrates the store first); stops on SIGINT/SIGTERM."""
    from .server import run

    run(_config(config_path), mode)


@node.command("deliver")
@config_option
@click.option("--name", default="delivery")
@_guarded
def node_deliver(config_path: Path, name: str) -> None:
    """Run one delivery worker process (production mode starts these itself)."""
    from .server import run_delivery, setup_logging

    setup_logging()
    run_delivery(_config(config_path), name)


@node.command("migrate")
@config_option
@_guarded
def node_migrate(config_path: Path) -> None:
    """Create or upgrade the node's database schema (alembic)."""
    _db(_config(config_path))
    click.echo("database schema is up to date")


# --- clients -----------------------------------------------------------------

@click.group("client")
def client() -> None:
    """OAuth clients of the agencies (each bound to one agency address)."""


@client.command("create")
@config_option
@click.option("--agency", "agencies", multiple=True, help="Agency address CC/AGENCY (repeatable).")
@click.option("--all", "all_agencies", is_flag=True, help="One client for every agency in the config.")
@click.option("--scope", "scopes", multiple=True, help="Scopes (default: all four).")
@click.option("--public-key", "public_key", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="PEM public key: the client authenticates by private_key_jwt instead of a secret.")
@json_option
@_guarded
def client_create(config_path: Path, agencies: tuple[str, ...], all_agencies: bool, scopes: tuple[str, ...],
                  public_key: Path | None, as_json: bool) -> None:
    """Register client(s); the secret is printed once and stored only as a hash."""
    from .config import SCOPES
    from .oauth import create_client

    config = _config(config_path)
    targets = list(agencies) + ([a.id for a in config.agencies] if all_agencies else [])
    if not targets:
        _fail("name --agency or --all")
    for agency in targets:
        if agency not in config.agency_ids:
            _fail(f"{agency} is not an agency of this node ({', '.join(sorted(config.agency_ids))})")
    db = _db(config)
    pem = public_key.read_text() if public_key else None
    try:
        results = [create_client(db, a, scopes=scopes or SCOPES, public_key_pem=pem) for a in targets]
    except GccLinkError as exc:
        _fail(f"{exc.code}: {exc.message}")
    result: Any = results[0] if len(results) == 1 and not all_agencies else results
    _emit(result, as_json, "\n".join(f"{r['agency']}: client_id={r['client_id']}"
                                     + (f" client_secret={r['client_secret']}" if "client_secret" in r else "")
                                     for r in results))


@client.command("list")
@config_option
@json_option
@_guarded
def client_list(config_path: Path, as_json: bool) -> None:
    """List registered clients (never their secrets)."""
    from .oauth import list_clients

    rows = list_clients(_db(_config(config_path)))
    _emit(rows, as_json, "\n".join(f"{r['client_id']} {r['agency']} {r['auth_method']} [{r['scope']}]" for r in rows))


# --- message log ---------------------------------------------------------------

@click.group("log")
def log_group() -> None:
    """The node's hash-chained message log."""


log = log_group


def verify_log(config) -> dict[str, Any]:
    """Check the chain and every signature in the log (certificates against the directory root)."""
    from sqlalchemy import text

    from ..protocol import jose
    from ..protocol.directory import load_directory
    from ..protocol.pki import verify_node_certificate
    from ..protocol.timefmt import parse_time
    from . import logstore
    from .directory_source import TRUSTED_FILE, fetch
    from ..protocol.msglog import verify_chain

    db = _db(config)
    trusted = config.data_dir / TRUSTED_FILE
    raw = trusted.read_bytes() if trusted.exists() else fetch(config.directory)
    now = datetime.now(timezone.utc)
    root = load_directory(raw, now).root_certificate
    problems: list[str] = []
    count = 0
    checked: set[str] = set()

    with db.read() as s:
        head_seq, head_hash = logstore.head(s)

        def entries():
            nonlocal count
            for row in logstore.iter_entries(s):
                count += 1
                typ = RECEIPT_TYP if row.kind.startswith("receipt") else MESSAGE_TYP
                try:
                    env = jose.parse(row.data, typ, 16 * 1024 * 1024)
                    env.verify_signature()
                    if env.fingerprint not in checked:
                        verify_node_certificate(env.certificate, root, parse_time(row.at))
                        checked.add(env.fingerprint)
                except GccLinkError as exc:
                    problems.append(f"entry {row.seq}: {exc.code}: {exc.message}")
                yield logstore.to_chain(row), row.data

        chain = verify_chain(entries())
        last_hash = None
        if count:
            last_hash = s.execute(text("SELECT entry_hash FROM message_log ORDER BY seq DESC LIMIT 1")).scalar_one()
    problems = [f"entry {p.seq}: {p.problem}" for p in chain] + problems
    if count != head_seq or (count and last_hash != head_hash):
        problems.append(f"the log head (seq {head_seq}) does not match the last entry ({count})")
    return {"valid": not problems, "entries": count, "head": head_hash, "problems": problems[:100]}


@log_group.command("verify")
@config_option
@json_option
@_guarded
def log_verify(config_path: Path, as_json: bool) -> None:
    """Check the hash chain and every signature; exit 1 if anything is wrong."""
    result = verify_log(_config(config_path))
    _emit(result, as_json, f"log {'valid' if result['valid'] else 'INVALID'}: {result['entries']} entries"
          + "".join(f"\n  {p}" for p in result["problems"]))
    if not result["valid"]:
        sys.exit(1)


# --- evidence ----------------------------------------------------------------------

@click.group("evidence")
def evidence() -> None:
    """Evidence bundles (message, receipt, certificate chain, log proof), verifiable offline."""


def export_bundle(config, message_id: str) -> dict[str, Any]:
    from sqlalchemy import select

    from ..protocol.canonical import sha256_hex
    from .context import load_identity
    from ..protocol.evidence import build_bundle, sign_checkpoint
    from .models import InboxMessage, LogEntry, OutboxMessage
    from . import logstore

    db = _db(config)
    identity = load_identity(config)
    with db.read() as s:
        out = s.get(OutboxMessage, message_id)
        inb = s.execute(select(InboxMessage).where(InboxMessage.id == message_id)).scalar_one_or_none()
        if out is not None and out.receipt is not None:
            receipt = out.receipt
            rows = s.execute(select(LogEntry).where(LogEntry.ref == message_id).order_by(LogEntry.seq)).scalars().all()
            rcpt_sha = sha256_hex(receipt)
            # the version of the message the receipt is for (a retry may have re-signed it)
            wanted = _receipt_for(receipt)
            message = next((r.data for r in rows if r.kind == "message_sent" and r.item_sha256 == wanted), None)
        elif inb is not None:
            receipt, message = inb.receipt, inb.jws
            rcpt_sha = sha256_hex(receipt)
            rows = s.execute(select(LogEntry).where(LogEntry.ref == message_id).order_by(LogEntry.seq)).scalars().all()
        else:
            raise GccLinkError(f"no settled message {message_id} on this node", code="not_found")
        if message is None:
            raise GccLinkError("the message is not in the log", code="not_found")
        msg_sha = sha256_hex(message)
        seqs = [r.seq for r in rows if r.item_sha256 in (msg_sha, rcpt_sha)]
        if len(seqs) < 2:
            raise GccLinkError("the message or its receipt is missing from the log", code="not_found")
        entries = [logstore.to_chain(r) for r in logstore.iter_entries(s, min(seqs), max(seqs))]
    checkpoint = sign_checkpoint(identity, entries[-1].seq, entries[-1].entry_hash, datetime.now(timezone.utc))
    return build_bundle(message, receipt, entries, checkpoint, config.state)


def _receipt_for(receipt: bytes) -> str:
    """The ``message_sha256`` a receipt names (read without verification, to pick the version)."""
    import base64

    payload = receipt.split(b".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))["message_sha256"]


@evidence.command("export")
@click.argument("message_id")
@config_option
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@json_option
@_guarded
def evidence_export(message_id: str, config_path: Path, out: Path, as_json: bool) -> None:
    """Write the evidence bundle of a delivered (or received) message to OUT."""
    try:
        bundle = export_bundle(_config(config_path), message_id)
    except GccLinkError as exc:
        _fail(f"{exc.code}: {exc.message}")
    out.write_text(json.dumps(bundle, indent=1) + "\n")
    _emit({"file": str(out), "message_id": message_id, "log_entries": len(bundle["log"]["entries"])}, as_json,
          f"evidence for {message_id} written to {out}")


@evidence.command("verify")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--root", "root_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True)
@json_option
def evidence_verify(file: Path, root_path: Path, as_json: bool) -> None:
    """Verify a bundle offline with only the GCC root certificate; exit 1 if invalid."""
    from ..protocol.pki import load_certificate
    from ..protocol.evidence import verify_bundle

    try:
        root = load_certificate(root_path.read_bytes())
        bundle = json.loads(file.read_text())
    except (GccLinkError, ValueError) as exc:
        _fail(f"cannot read input: {exc}")
    result = verify_bundle(bundle, root)
    _emit(result, as_json, f"evidence {'valid' if result['valid'] else 'INVALID'}"
          + "".join(f"\n  {p}" for p in result["problems"]))
    if not result["valid"]:
        sys.exit(1)
