"""Operator commands of ``gcc-link node|client|log``: backup, restore, check-gap, archive, messages, grants.

Registered on the groups of ``cli/node.py`` when it is imported. Each
command prints one line per result, or JSON with ``--json``; failures are
one line on stderr and exit 1. Passphrases are read from an environment
variable (``--passphrase-env``, default ``GCC_BACKUP_PASSPHRASE``) or asked
for on the terminal, never taken on the command line (it would show in
``ps`` and shell history).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ..node.config import NodeConfig
from ..protocol.errors import GccLinkError
from .files import at_option, json_option, now_or
from .node_common import config_option, load_node_config
from .output import emit, fail, guarded

__all__ = ["register"]

_config = load_node_config


def _db(config: NodeConfig):  # -> Database
    """The node's existing store (upgraded if needed); never creates one: a missing store is restored, not recreated."""
    from sqlalchemy import inspect

    from ..dburl import is_sqlite
    from ..node.db import Database, migrate

    where = config.db_url.split(":///", 1)[-1] if is_sqlite(config.db_url) else "the database"
    if is_sqlite(config.db_url) and not Path(where).exists():
        fail(f"store_missing: no store at {where}; restore it (gcc-link node restore) or start the node first")
    db = Database(config.db_url)
    if not inspect(db.engine).has_table("alembic_version"):
        db.dispose()
        fail(f"store_missing: {where} holds no node store; restore it (gcc-link node restore) or start the node first")
    migrate(config.db_url)
    return db


_NODE: list[click.Command] = []
_CLIENT: list[click.Command] = []
_LOG: list[click.Command] = []


def register(node: click.Group, client: click.Group, log_group: click.Group) -> None:
    """Add these commands to the ``node``, ``client`` and ``log`` groups of ``cli/node.py``."""
    for group, commands in ((node, _NODE), (client, _CLIENT), (log_group, _LOG)):
        for command in commands:
            group.add_command(command)


def _on(target: list[click.Command]):
    def add(command: click.Command) -> click.Command:
        target.append(command)
        return command

    return add


passphrase_option = click.option(
    "--passphrase-env",
    "passphrase_env",
    default="GCC_BACKUP_PASSPHRASE",
    show_default=True,
    metavar="VAR",
    help="Environment variable holding the backup passphrase (asked for if unset).",
)


def _passphrase(var: str, confirm: bool) -> str:
    value = os.environ.get(var)
    if value:
        return value
    if not sys.stdin.isatty():
        fail(f"set {var} to the backup passphrase")
    return str(click.prompt("backup passphrase", hide_input=True, confirmation_prompt=confirm))


# --- backup, restore, gap -------------------------------------------------------------


@_on(_NODE)
@click.command("backup")
@config_option
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The encrypted backup file to write (0600).",
)
@click.option("--include-key", is_flag=True, help="Also back up the node's private key.")
@passphrase_option
@at_option
@json_option
@guarded
def node_backup(
    config_path: Path, out: Path, include_key: bool, passphrase_env: str, at: str | None, as_json: bool
) -> None:
    """Write one consistent, encrypted backup of the node (it may keep running)."""
    from ..node.backup import create_backup

    config = _config(config_path)
    result = create_backup(config, out, _passphrase(passphrase_env, True), now_or(at), include_key=include_key)
    emit(
        result,
        as_json,
        f"backup of {result['node']} written to {out} ({result['bytes']} bytes, log head "
        f"seq {result['log_head']['seq']}, private key {'included' if include_key else 'NOT included'})",
    )


@_on(_NODE)
@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The node's node.toml (written from the backup if it does not exist).",
)
@passphrase_option
@at_option
@json_option
@guarded
def node_restore(file: Path, config_path: Path, passphrase_env: str, at: str | None, as_json: bool) -> None:
    """Restore a stopped node from FILE, then verify its log chain (exit 1 if the log is not valid)."""
    from ..node.backup import restore_backup

    result = restore_backup(file, config_path, _passphrase(passphrase_env, False), now_or(at))
    check = result["log_verify"]
    emit(
        result,
        as_json,
        f"restored {result['node']} from the backup of {result['backup_created_at']}; log "
        f"{'valid' if check['valid'] else 'INVALID'}: {check['entries']} entries"
        + (f"; previous store kept at {result['moved_aside']}" if result["moved_aside"] else "")
        + "\nrun `gcc-link node check-gap` to find messages accepted after the backup",
    )
    if not check["valid"]:
        sys.exit(1)


@_on(_NODE)
@click.command("check-gap")
@config_option
@click.option("--since", "since", metavar="TIME", help="Start of the gap (default: the restored backup's time).")
@click.option(
    "--recover",
    is_flag=True,
    help="Put messages the peers delivered to us since then, and that our inbox lost, back into it.",
)
@json_option
@guarded
def node_check_gap(config_path: Path, since: str | None, recover: bool, as_json: bool) -> None:
    """Ask the peers what they received from us and delivered to us since the backup; exit 1 if anything is lost."""
    from ..node.backup import RESTORED_FILE
    from ..node.context import NodeContext
    from ..node.gap import check_gap

    config = _config(config_path)
    until: str | None = None
    if since is None:
        marker = config.data_dir / RESTORED_FILE
        if not marker.exists():
            fail("this node was not restored from a backup; name the start of the gap with --since")
        restored = json.loads(marker.read_text())
        since, until = restored["backup_created_at"], restored["restored_at"]
    ctx = NodeContext.create(config)
    result = check_gap(ctx, now_or(since), now_or(until) if until else None, recover=recover)
    lines = [
        f"gap since {result['since']}: {len(result['lost'])} message(s) accepted by this node are held by "
        f"peers but LOST from this store" + ("" if result["complete"] else " (not every peer answered)")
    ]
    lines += [f"  lost {f['id']} (delivered to {f['peer']} at {f['received_at']})" for f in result["lost"]]
    lines.append(
        f"{len(result['lost_received'])} message(s) delivered to this node were missing from its inboxes"
        + (f"; {result['recovered']} put back" if recover else " (put them back with --recover)")
    )
    lines += [
        f"  {'recovered' if recover else 'missing'} {f['id']} from {f['sender']} to {f['recipient']}"
        for f in result["lost_received"]
    ]
    lines += [
        f"  peer {cc}: "
        + (
            f"{p['received_since']} received since, {p['unknown_here']} unknown here, "
            f"{p['delivered_since']} delivered to us, {p['missing_from_inbox']} missing from "
            f"our inbox, {p['invalid_receipts']} invalid"
            if "received_since" in p
            else f"no answer ({p.get('error')})"
        )
        for cc, p in sorted(result["peers"].items())
    ]
    lines.append(
        "messages accepted after the backup that reached no peer cannot be recovered: ask the agencies "
        f"to re-send what they sent between {result['since']} and {result['until']}"
    )
    emit(result, as_json, "\n".join(lines))
    if result["lost"] or not result["complete"] or (result["lost_received"] and not recover):
        sys.exit(1)


# --- retention ------------------------------------------------------------------------


@_on(_NODE)
@click.command("archive")
@config_option
@click.option("--days", "days", type=float, help="Retention in days (default: retention.days of the config).")
@at_option
@json_option
@guarded
def node_archive(config_path: Path, days: float | None, at: str | None, as_json: bool) -> None:
    """Move settled messages and their log days older than the retention into signed daily archives."""
    from ..node.archive import locked_run
    from ..node.context import load_identity

    config = _config(config_path)
    retention = days if days is not None else config.retention_days
    if retention < 0:
        fail("--days must not be negative")
    result = locked_run(_db(config), load_identity(config), config.data_dir, now_or(at), retention)
    human = [f"archived {len(result['archived'])} day(s) older than {result['cutoff']}"]
    human += [
        f"  {d['file']}: {d['entries']} log entries, {d['outbox']} sent, {d['inbox']} received, {d['bytes']} bytes"
        for d in result["archived"]
    ]
    emit(result, as_json, "\n".join(human))


@_on(_LOG)
@click.command("verify-archive")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--root", "root_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True)
@json_option
def log_verify_archive(files: tuple[Path, ...], root_path: Path, as_json: bool) -> None:
    """Verify archive files offline with only the GCC root certificate (in day order); exit 1 if invalid."""
    from ..node.archive import verify_archive_lines
    from ..protocol.pki import load_certificate

    try:
        root = load_certificate(root_path.read_bytes())
    except (GccLinkError, ValueError) as exc:
        fail(f"cannot read the root certificate: {exc}")
    result = verify_archive_lines(files, root)
    emit(
        result,
        as_json,
        f"archive {'valid' if result['valid'] else 'INVALID'}: {result['files']} file(s), "
        f"{result['entries']} entries" + "".join(f"\n  {p}" for p in result["problems"]),
    )
    if not result["valid"]:
        sys.exit(1)


# --- messages ------------------------------------------------------------------------


@_on(_NODE)
@click.group("messages")
def messages() -> None:
    """Inspect, requeue and cancel messages (operator)."""


def _line(m: dict) -> str:
    when = m.get("created_at") or m.get("received_at")
    return (
        f"{m['id']} {m['direction']} {m['status']} {m['sender']} -> {m['recipient']} {when}"
        + (f" attempts={m['attempts']}" if "attempts" in m else "")
        + (f" last_error={m['last_error']}" if m.get("last_error") else "")
    )


@messages.command("list")
@config_option
@click.option("--direction", type=click.Choice(["sent", "received"]), default="sent", show_default=True)
@click.option("--status", help="sent: queued|delivered|failed|dead; received: received|acked")
@click.option("--peer", help="Peer state (CC).")
@click.option("--agency", help="Agency address (sender or recipient).")
@click.option("--since", metavar="TIME", help="Created (received) at or after this UTC time.")
@click.option("--until", metavar="TIME", help="Created (received) before this UTC time.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
@guarded
def messages_list(
    config_path: Path,
    direction: str,
    status: str | None,
    peer: str | None,
    agency: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List messages by status, peer, agency and time, newest first."""
    from ..node.operations import list_messages

    rows = list_messages(
        _db(_config(config_path)),
        direction=direction,
        status=status,
        peer=peer,
        agency=agency,
        since=since,
        until=until,
        limit=limit,
    )
    emit(rows, as_json, "\n".join(_line(m) for m in rows) or "no messages")


@messages.command("show")
@click.argument("message_id")
@config_option
@json_option
@guarded
def messages_show(message_id: str, config_path: Path, as_json: bool) -> None:
    """Everything the store holds about one message, with its log entries."""
    from ..node.operations import show_message

    m = show_message(_db(_config(config_path)), message_id)
    emit(m, as_json, _line(m) + "".join(f"\n  log {e['seq']} {e['kind']} {e['at']}" for e in m["log"]))


@messages.command("requeue")
@click.argument("message_id")
@config_option
@click.option(
    "--ttl",
    "ttl",
    type=click.IntRange(1, 2_592_000),
    default=86_400,
    show_default=True,
    help="Seconds the re-signed message stays valid.",
)
@at_option
@json_option
@guarded
def messages_requeue(message_id: str, config_path: Path, ttl: int, at: str | None, as_json: bool) -> None:
    """Re-sign (same id) and queue a failed or dead message."""
    from ..node.context import load_identity
    from ..node.operations import requeue_message

    config = _config(config_path)
    m = requeue_message(_db(config), load_identity(config), message_id, now_or(at), ttl)
    emit(m, as_json, f"requeued {m['id']} to {m['recipient']}")


@messages.command("cancel")
@click.argument("message_id")
@config_option
@at_option
@json_option
@guarded
def messages_cancel(message_id: str, config_path: Path, at: str | None, as_json: bool) -> None:
    """Stop delivering a queued message (it becomes dead, 'cancelled by operator')."""
    from ..node.operations import cancel_message

    m = cancel_message(_db(_config(config_path)), message_id, now_or(at))
    emit(m, as_json, f"cancelled {m['id']}")


# --- grants ---------------------------------------------------------------------------


@_on(_NODE)
@click.group("grants")
def grants() -> None:
    """Who may use this node's services (stored; no TOML editing)."""


@grants.command("list")
@config_option
@click.option("--service", help="Only this service (CC/AGENCY/code).")
@json_option
@guarded
def grants_list(config_path: Path, service: str | None, as_json: bool) -> None:
    """The services and their grantees."""
    from ..node.operations import list_grants

    rows = list_grants(_db(_config(config_path)), service)
    emit(rows, as_json, "\n".join(f"{r['service']}: {', '.join(r['grants']) or '-'}" for r in rows) or "no services")


@grants.command("add")
@click.argument("service")
@click.argument("grantee")
@config_option
@json_option
@guarded
def grants_add(service: str, grantee: str, config_path: Path, as_json: bool) -> None:
    """Allow GRANTEE (CC/AGENCY) to use SERVICE."""
    from ..node.operations import grant

    r = grant(_db(_config(config_path)), service, grantee, allow=True)
    emit(r, as_json, f"{grantee} may use {service}" + ("" if r["changed"] else " (already)"))


@grants.command("remove")
@click.argument("service")
@click.argument("grantee")
@config_option
@json_option
@guarded
def grants_remove(service: str, grantee: str, config_path: Path, as_json: bool) -> None:
    """Withdraw GRANTEE's permission to use SERVICE."""
    from ..node.operations import grant

    r = grant(_db(_config(config_path)), service, grantee, allow=False)
    emit(r, as_json, f"{grantee} may no longer use {service}" + ("" if r["changed"] else " (had no grant)"))


# --- clients ---------------------------------------------------------------------------


@_on(_CLIENT)
@click.command("revoke")
@click.argument("client_id")
@config_option
@json_option
@guarded
def client_revoke(client_id: str, config_path: Path, as_json: bool) -> None:
    """Revoke a client: no new tokens, its live tokens end now (cached checks within 5 s)."""
    from ..node.operations import revoke_client

    r = revoke_client(_db(_config(config_path)), client_id)
    emit(r, as_json, f"revoked {client_id} ({r['tokens_ended']} live token(s) ended)")


@_on(_CLIENT)
@click.command("rotate-secret")
@click.argument("client_id")
@config_option
@json_option
@guarded
def client_rotate_secret(client_id: str, config_path: Path, as_json: bool) -> None:
    """A new secret (printed once); the old secret and its tokens stop working."""
    from ..node.operations import rotate_secret

    r = rotate_secret(_db(_config(config_path)), client_id)
    emit(r, as_json, f"{client_id}: client_secret={r['client_secret']} ({r['tokens_ended']} token(s) ended)")


@_on(_CLIENT)
@click.command("rotate-key")
@click.argument("client_id")
@config_option
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="The client's new PEM public key (private_key_jwt).",
)
@json_option
@guarded
def client_rotate_key(client_id: str, config_path: Path, public_key: Path, as_json: bool) -> None:
    """A new public key for a private_key_jwt client; its tokens stop working."""
    from ..node.operations import rotate_key

    r = rotate_key(_db(_config(config_path)), client_id, public_key.read_text())
    emit(r, as_json, f"{client_id}: new public key ({r['tokens_ended']} token(s) ended)")
